#!/usr/bin/python3
"""The gensim side of bench/word2vec.ts: trains gensim 4.2 (Debian python3-gensim, Cython-compiled)
on a text corpus with the settings given as JSON and prints one JSON line with the training time
(Word2Vec.train only, after build_vocab, as qkv's lastTraining.seconds) and WordSim-353 scores.

  /usr/bin/python3 bench/word2vec_gensim.py CORPUS WORDSIM '{"sg":1,"hs":0,"negative":5,...,"mode":"corpus_file"}'

mode "corpus_file" (gensim's fastest: each worker reads its own part of the file) or "iterable"
(LineSentence, the usual way).
"""
import json
import logging
import sys
import time

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence


def main():
    corpus, wordsim, cfg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    logging.basicConfig(level=logging.ERROR)
    model = Word2Vec(
        vector_size=cfg["dim"], window=cfg["window"], min_count=cfg["minCount"], sample=cfg["sample"],
        sg=cfg["sg"], hs=cfg["hs"], negative=cfg["negative"], workers=cfg["threads"], seed=cfg["seed"],
        alpha=cfg["alpha"], min_alpha=cfg["minAlpha"], epochs=cfg["epochs"],
    )
    if cfg["mode"] == "corpus_file":
        model.build_vocab(corpus_file=corpus)
        t0 = time.perf_counter()
        model.train(corpus_file=corpus, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                    epochs=cfg["epochs"])
        seconds = time.perf_counter() - t0
    else:
        sentences = LineSentence(corpus)
        model.build_vocab(sentences)
        t0 = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=cfg["epochs"])
        seconds = time.perf_counter() - t0
    words = model.corpus_total_words * cfg["epochs"]
    pearson, spearman, oov = model.wv.evaluate_word_pairs(wordsim)
    print(json.dumps({
        "seconds": seconds, "words": words, "wordsPerSec": words / seconds, "vocab": len(model.wv),
        "spearman": float(spearman[0]), "pearson": float(pearson[0]), "oov": oov,
    }))


if __name__ == "__main__":
    main()
