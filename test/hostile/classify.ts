// How the sweep judges what a call did. ok: it returned. clean: a TypeError, RangeError or a
// QkvError with a known code (not ERR_INTERNAL) whose message names the call, or the caller's own
// exception (a trap's, a revoked Proxy's) passed through unchanged. wrong: any other error. crash
// and hang are decided by the runner (the child died, or stopped answering).
import { SENTINEL } from './values';

export type Outcome = 'ok' | 'slow' | 'clean' | 'wrong' | 'crash' | 'hang';

export interface Verdict {
  outcome: Outcome;
  error?: { name: string; code?: string; message: string };
  why?: string;
}

export const CODES = new Set(['ERR_DISPOSED', 'ERR_FORMAT', 'ERR_IO', 'ERR_ABORTED', 'ERR_NAN', 'ERR_BUSY', 'ERR_NO_STATE', 'ERR_UNSUPPORTED', 'ERR_CUDA', 'ERR_DEVICE']);

// Exports that are other names of one class: their messages use the class's name.
const ALIASES: Record<string, string> = { CLIP: 'DualEncoder' };

/**
 * The names a message may use for a target: 'nn.Linear' → Linear; 'Tensor.from' → from;
 * 'Tensor#grad=' → grad; a method also by its receiver's class ('Seq2Seq: the model is disposed',
 * 'MultiHeadAttention.forward: ...' for forwardWithWeights).
 */
export function callNames(id: string, receiver?: string): string[] {
  const last = id.split(/[.#]/).pop()!.replace(/=$/, '');
  const owner = id.includes('#') ? id.split('#')[0].split('.').pop()! : undefined;
  const names = [last, ...(owner ? [owner] : []), ...(receiver ? [receiver] : [])];
  return [...names, ...names.filter((n) => n in ALIASES).map((n) => ALIASES[n])];
}

function namesCall(message: string, id: string, receiver?: string): boolean {
  return callNames(id, receiver).some((n) => new RegExp(`(^|[^A-Za-z0-9_])${n.replace(/[.$]/g, '\\$&')}($|[^A-Za-z0-9_])`).test(message));
}

// The engine's own TypeError for a revoked Proxy: the caller's value failing, not qkv.
const REVOKED = /on a proxy that has been revoked/;

export function classifyError(e: unknown, id: string, QkvError: abstract new (...a: never[]) => Error, receiver?: string): Verdict {
  if (e === SENTINEL) return { outcome: 'clean', why: 'propagated' };
  if (!(e instanceof Error)) return { outcome: 'wrong', error: { name: typeof e, message: String(e).slice(0, 200) }, why: 'not an Error' };
  const error = { name: e.name, code: (e as { code?: string }).code, message: e.message.slice(0, 300) };
  if (e instanceof TypeError && REVOKED.test(e.message)) return { outcome: 'clean', error, why: 'propagated' };
  // TypeError and RangeError are structurally Error: test classes apart from type narrowing.
  const isA = (C: abstract new (...a: never[]) => unknown) => e instanceof C;
  const known = isA(TypeError) || isA(RangeError) || (isA(QkvError) && CODES.has(error.code ?? ''));
  if (!known) return { outcome: 'wrong', error, why: isA(QkvError) ? `code ${error.code}` : `a plain ${e.name}` };
  if (!namesCall(e.message, id, receiver)) return { outcome: 'wrong', error, why: 'message does not name the call' };
  return { outcome: 'clean', error };
}
