// Package wiki finds the Wikipedia paragraphs about each subject of the attributes experiment and
// reads them back (paper-spec §5.1; RW:wiki/wiki_retrieve.py after Geva et al. 2023): a subject's
// attributes are the tokens of the paragraphs about it.
//
// Input: paragraphs.txt and titles.txt as the reference's wiki_preprocess.py writes them from an
// enwiki dump (one paragraph a line, and line for line the "Article. Section. Subsection" path it is
// in; blank lines do not count, each line is right-stripped, \n, \r\n and \r end lines, as Python's
// text files). Each subject is a BM25 query; its DefaultK best paragraphs are kept when the subject,
// or the subject as Python's str.capitalize writes it, occurs in title + ". " + paragraph; the kept
// paragraphs, each after a space, in rank order, are the subject's "paragraphs" in wiki.csv.
//
// The scores are bm25s's (method "lucene", k1 1.5, b 0.75, float32) as the reference calls it, which
// shapes them in a way worth knowing: its Tokenizer learns its vocabulary from the subjects and then
// reads the corpus with update_vocab=False, so every word that is not in some subject is dropped
// before indexing. A paragraph's length is its number of subject words, the average length is taken
// over those, and a paragraph with none is bm25s's empty token "" (length 1). Words are lower-cased
// runs of at least two letters, digits or '_' (Python's (?u)\b\w\w+\b), without bm25s's 33 English
// stopwords. A query's repeated word counts twice; a subject with no word left queries the empty token,
// as bm25s does. Ties in score go to the earlier paragraph, and when fewer than k paragraphs score
// above zero the earliest others fill up the list (bm25s's top-k picks some zero-score paragraphs; they
// hold no subject word, so they rarely pass the filter).
package wiki
