// Package attributes is the attributes-rate experiment (paper-spec §5; Geva et al. 2023, "Dissecting
// Recall", subject enrichment): for each fact, the residual stream after every layer at the last subject
// token is read through the logit lens, and the attributes rate of a layer is the share of its top-k
// tokens that are attribute tokens of the subject. Runs clean, with a neuron set ablated and with a
// baseline set ablated, and compares the rates layer by layer.
//
// Per fact: tokens = BOS (bindings.Model.BOS: the EOS id for OLMo) + tokenize(prompt); the subject's token range is found
// by matching the subject (else its capitalised form) in the concatenated token pieces of the prompt
// (FindSubject); position = its last token. Only tokens[:position+1] are run, with the ablation hooks
// of the entropy experiment (zero or mean, --gate/--post conditions, refactor signs), capturing
// hook_resid_post (node l_out-L) of every layer. For layer L the logit lens is resid_L · W_U without the
// final LayerNorm, resid_L centred along d_model as in TransformerLens's processed weights (which the
// reference reads); record "emb" is the centred mean embedding of the subject tokens · W_U (clean run
// only: it does not depend on an ablation).
//
// Facts (ReadFacts): JSONL or a JSON array in ROME's known_1000 layout; the reference evaluates only the
// facts the model knows, which package knowns selects (wcos knowns → knowns.jsonl).
//
// Attribute tokens (ReadAttributes, Attributes.Tokens), as the reference's clean_df: from wiki.csv (the
// subjects' Wikipedia paragraphs, package wiki), set(to_str_tokens(paragraphs)) — BOS and then the
// paragraphs' tokens, cut at ParagraphTokens in all as TransformerLens cut at n_ctx (2048); from
// subject_attributes.json (the stand-in for the embedded facts), every token of each attribute name,
// tokenised both as in running text (" "+attribute) and at the start of a text (attribute). Either way
// without tokens whose strip() is a stopword (case-sensitive) or is at most 2 characters long. A
// subject missing from the file has no attributes (rate -1); one with empty paragraphs keeps BOS
// ("<|endoftext|>") and rates 0 unless the lens ranks that token, as in the reference.
//
// Rate (Rate): clean = top-k strings whose strip().lower() is not a stopword and whose strip() is longer
// than 2 characters; rate = 100·|set(clean[:k]) ∩ attribute tokens| / len(clean), or -1 (excluded from
// means) when clean is empty or the subject has no attributes.
//
// Stopwords (Config.Stopwords): by default NLTK's English list as the reference's nltk_data download
// has it since 2025-02-20 (NLTKEnglish, 198 words); NLTKEnglish179 is the list before, without 19
// pronoun contractions (i'm, he's, we're, …); ReadStopwords reads a list in NLTK's corpus format.
//
// Differences from the reference code, on purpose: the reference loads the model without refactoring
// but takes refactored means (paper-spec §10); here the means and post conditions use the refactor signs
// consistently (or raw signs with Refactor false). Subject matching works on the tokens' bytes, so a
// character split over two tokens does not shift the match. The BOS piece is not searched (a subject
// such as "end" would otherwise match inside "<|endoftext|>").
package attributes
