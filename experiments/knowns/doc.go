// Package knowns keeps the facts a model knows (paper-spec §5.1; RW:wiki/knowns.py after Meng et al.
// 2022, ROME): the attributes experiment is meant for facts the model recalls, so each fact's prompt
// is continued greedily and the fact is kept when the model names the attribute before any other
// capitalised word.
//
// Per fact: prompt = " " + template with the subject filled in, right-stripped, its first letter
// upper-cased when it starts with the subject. A round tokenizes BOS + the text so far and generates up
// to RoundTokens (10) tokens greedily, ending early at EOS (bindings.Context.Generate; the text is
// decoded and tokenized again before the next round, as the reference's model.generate on a string).
// The new text's first capitalised word (str.split(), first character upper-case) decides:
//   - the attribute (case-insensitively) occurs in the answer up to and including that word: known;
//   - the attribute starts with that word: known if the words from there on start with it, unknown if
//     not — once they are at least as long as the attribute or EOS came; until then the fact is
//     undecided and the next round reads again from the same place;
//   - otherwise: unknown.
//
// With no capitalised word, EOS decides by whether the answer contains the attribute. A known fact's
// prompt becomes the text up to the attribute and its prediction the rest (the reference's
// known_<model>.json), ready for wcos attributes --facts.
//
// Two slips of the reference are not reproduced (paper-spec §5.1 states the criterion): it took the
// words from the capitalised one on as ' '.join(words)[i:], a character index, so a multi-word
// attribute whose first word was not the round's first word always failed; and it cut the prompt at the
// attribute's first occurrence anywhere, the original prompt included (subject "Toronto Blue Jays",
// attribute "Toronto"). Here the words are sliced and only the generated text is searched. A fact still
// undecided after MaxTokens generated tokens (the reference had no limit) is reported as undecided.
// Where the reference found none of the attribute's three spellings to cut at (it stopped on an
// assertion), the cut is at the first match ignoring case. The judge equals a Python restatement of
// the reference with the slips undone on 1,500 random texts split into rounds at random characters
// (testdata/judge_golden.py).
package knowns
