// The addon's BPE functions (binding/bpe_binding.cpp), typed. Only src/text/bpe.ts uses them.
import { binding } from '../native';
import type { NativeJob } from '../jobs';

/** An opaque native tokenizer handle (a type-tagged External). */
export type NativeBpe = { readonly __bpe: unique symbol };

export interface BpeBinding {
  bpeLoadFile(path: string): Promise<NativeBpe>;
  bpeLoadGPT2(encoderJsonPath: string, vocabBpePath: string, clip?: boolean): Promise<NativeBpe>;
  bpeLoadTiktoken(path: string, specialTokens: string[], specialIds: Int32Array): Promise<NativeBpe>;
  bpeLoadCLIP(mergesText: string, where: string): Promise<NativeBpe>;
  bpeFromJSON(tokenizerJson: string): NativeBpe;
  bpeToJSON(h: NativeBpe): string;
  bpeSave(h: NativeBpe, path: string): Promise<void>;
  bpeInfo(h: NativeBpe): { size: number; merges: number; clip: boolean; added: [content: string, id: number, special: boolean][] };
  bpeEncode(h: NativeBpe, text: string | Uint8Array, splitSpecial: boolean): Int32Array;
  bpeEncodeReference(h: NativeBpe, text: string | Uint8Array): Int32Array;
  bpeDecode(h: NativeBpe, ids: Int32Array, skipSpecial: boolean): Uint8Array;
  bpeEncodeBatch(h: NativeBpe, texts: string[], splitSpecial: boolean): Promise<{ ids: Int32Array; offsets: Int32Array }>;
  bpeDecodeBatch(h: NativeBpe, ids: Int32Array, offsets: Int32Array, skipSpecial: boolean): Promise<Uint8Array[]>;
  bpeAddTokens(h: NativeBpe, tokens: string[], special: boolean): Int32Array;
  bpeTokenToId(h: NativeBpe, token: string): number;
  bpeIdToToken(h: NativeBpe, id: number): string | undefined;
  bpeIsSpecial(h: NativeBpe, id: number): boolean;
  bpeTrain(
    corpus: { path: string } | { texts: string[] },
    vocabSize: number,
    minFrequency: number,
    specialTokens: string[],
    onProgress: ((p: { merges: number; target: number }) => void) | undefined,
    clip: boolean,
  ): NativeJob<NativeBpe>;
}

export const native = binding as unknown as BpeBinding;
