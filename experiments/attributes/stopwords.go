package attributes

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
)

// nltkEnglish is NLTK's English stopword list, nltk.corpus.stopwords.words('english'): the file
// corpora/stopwords/english of nltk_data as of commit 47111d866cd90b36ec7c8b97d2c11f74df8641af
// (2025-02-20, nltk_data PR #228 for nltk issue #3358), 198 words, which the reference gets from a
// current nltk_data download. Before that commit the file had 179 words, without nltkContractions.
// (NLTK's later opt-in "english-extended" list, PR #3747, left this file as it was.)
const nltkEnglish = `a about above after again against ain all am an and any are aren aren't as at be because been before
being below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don
don't down during each few for from further had hadn hadn't has hasn hasn't have haven haven't having he
he'd he'll he's her here hers herself him himself his how i i'd i'll i'm i've if in into is isn isn't it
it'd it'll it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself needn
needn't no nor not now o of off on once only or other our ours ourselves out over own re s same shan
shan't she she'd she'll she's should should've shouldn shouldn't so some such t than that that'll the
their theirs them themselves then there these they they'd they'll they're they've this those through to
too under until up ve very was wasn wasn't we we'd we'll we're we've were weren weren't what when where
which while who whom why will with won won't wouldn wouldn't y you you'd you'll you're you've your yours
yourself yourselves`

// nltkContractions are the 19 pronoun contractions that nltk_data added on 2025-02-20.
const nltkContractions = `he'd he'll he's i'd i'll i'm i've it'd it'll she'd she'll they'd they'll they're they've
we'd we'll we're we've`

// Built-in stopword lists, by their --stopwords name.
var (
	// NLTKEnglish is the current nltkEnglish (198 words), the default.
	NLTKEnglish = wordSet(nltkEnglish)
	// NLTKEnglish179 is NLTK's English list before 2025-02-20: nltkEnglish without nltkContractions.
	NLTKEnglish179 = func() map[string]bool {
		m := wordSet(nltkEnglish)
		for w := range wordSet(nltkContractions) {
			delete(m, w)
		}
		return m
	}()
	StopwordLists = map[string]map[string]bool{"nltk": NLTKEnglish, "nltk-179": NLTKEnglish179}
)

// DefaultStopwords is the name of the default list in StopwordLists.
const DefaultStopwords = "nltk"

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// LoadStopwords returns the built-in list of that name (StopwordLists), else reads the file name.
func LoadStopwords(name string) (map[string]bool, error) {
	if m, ok := StopwordLists[name]; ok {
		return m, nil
	}
	m, err := ReadStopwords(name)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (nor a built-in list: %s)", err, strings.Join(slices.Sorted(maps.Keys(StopwordLists)), ", "))
	}
	return m, err
}

// ReadStopwords reads a stopword file in NLTK's corpus format: one word per line, whitespace trimmed,
// blank lines ignored. A file without words is an error.
func ReadStopwords(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if w := strings.TrimSpace(line); w != "" {
			m[w] = true
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no stopwords in it (want one word per line)", path)
	}
	return m, nil
}
