package wiki

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// randomCorpus draws n paragraphs of words from a small vocabulary (so that words repeat within and
// across paragraphs), with some paragraphs of stopwords and unknown words only.
func randomCorpus(r *rand.Rand, n int) []string {
	words := []string{"Chad", "chad", "Mali", "niger", "River", "river", "lake", "the", "of", "x", "zz", "Lake_Chad", "2024", "Niger-Congo", "é", "éé"}
	paras := make([]string, n)
	for i := range paras {
		var b strings.Builder
		for range 1 + r.IntN(30) {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteString([]string{" ", ", ", ". ", "-"}[r.IntN(4)])
		}
		paras[i] = b.String()
	}
	return paras
}

// TestTopKBruteForce checks TopK on random corpora against each paragraph's score computed directly
// from its words (the formula written out again), for random queries and k.
func TestTopKBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 30 {
		paras := randomCorpus(r, 1+r.IntN(300))
		queries := []string{"Chad", "Lake Chad", "river river", "the of", "Niger-Congo", "2024 é éé", "nothing"}
		ix := NewIndex(queries)
		var buf []byte
		ix.merge(ix.indexChunk(0, paras, &buf))
		k := 1 + r.IntN(20)
		ids := make([][]int32, len(queries))
		for i, q := range queries {
			ids[i] = ix.Query(q)
		}
		got := ix.TopK(ids, k)

		// Direct: lengths, document frequencies, scores.
		vocab := map[string]bool{}
		for _, q := range queries {
			for _, w := range Words(q) {
				if !Stopwords[w] {
					vocab[w] = true
				}
			}
		}
		length := make([]int, len(paras))
		df := map[string]int{}
		total := 0
		for i, p := range paras {
			seen := map[string]bool{}
			for _, w := range Words(p) {
				if vocab[w] {
					length[i]++
					seen[w] = true
				}
			}
			if length[i] == 0 {
				seen[""] = true
			}
			for w := range seen {
				df[w]++
			}
			total += max(length[i], 1)
		}
		avg := float64(total) / float64(len(paras))
		for qi, q := range queries {
			terms := []string{}
			for _, w := range Words(q) {
				if vocab[w] {
					terms = append(terms, w)
				}
			}
			if len(terms) == 0 {
				terms = []string{""}
			}
			scores := make([]float32, len(paras))
			for i, p := range paras {
				for _, term := range terms {
					tf := 0
					if term == "" && length[i] == 0 {
						tf = 1
					}
					for _, w := range Words(p) {
						if term != "" && w == term {
							tf++
						}
					}
					if tf == 0 {
						continue
					}
					idf := float32(math.Log(1 + (float64(len(paras)-df[term])+0.5)/(float64(df[term])+0.5)))
					l := float64(max(length[i], 1))
					scores[i] += float32(float64(idf) * float64(tf) / (1.5*(0.25+0.75*l/avg) + float64(tf)))
				}
			}
			hits := got[qi]
			if len(hits) != min(k, len(paras)) {
				t.Fatalf("trial %d %q: %d hits, want %d", trial, q, len(hits), min(k, len(paras)))
			}
			in := map[uint32]bool{}
			for j, h := range hits {
				in[h.Doc] = true
				if h.Score != scores[h.Doc] {
					t.Errorf("trial %d %q hit %d: paragraph %d score %v, direct %v", trial, q, j, h.Doc, h.Score, scores[h.Doc])
				}
				if j > 0 && better(h, hits[j-1]) {
					t.Errorf("trial %d %q: hit %d ranks above hit %d", trial, q, j, j-1)
				}
			}
			last := hits[len(hits)-1]
			for d, s := range scores {
				if !in[uint32(d)] && better(Hit{uint32(d), s}, last) {
					t.Errorf("trial %d %q: paragraph %d (score %v) is missing, the last hit scores %v", trial, q, d, s, last.Score)
				}
			}
		}
	}
}

// TestChunksInAnyOrder: the index does not depend on how the paragraphs are cut into chunks or in
// which order the chunks arrive (the workers of build).
func TestChunksInAnyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	paras := randomCorpus(r, 500)
	queries := []string{"Chad", "Lake Chad", "the"}
	whole := NewIndex(queries)
	var buf []byte
	whole.merge(whole.indexChunk(0, paras, &buf))
	cut := NewIndex(queries)
	var chunks []chunkPostings
	for first := 0; first < len(paras); first += 37 {
		chunks = append(chunks, cut.indexChunk(uint32(first), paras[first:min(first+37, len(paras))], &buf))
	}
	r.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	for _, c := range chunks {
		cut.merge(c)
	}
	ids := [][]int32{whole.Query("Lake Chad"), whole.Query("the")}
	a, b := whole.TopK(ids, 50), cut.TopK(ids, 50)
	if fmt.Sprint(a) != fmt.Sprint(b) || whole.total != cut.total || whole.empty != cut.empty {
		t.Errorf("chunked index differs:\n%v\n%v", a, b)
	}
}

// BenchmarkIndex measures the first pass over paragraphs.txt (reading, tokenizing, indexing) on the
// evaluation text's paragraphs repeated to size, with the golden's 433 subjects as queries. The titles file is the same file, so
// each pass reads it twice (the count of titles runs beside the index).
func BenchmarkIndex(b *testing.B) {
	paras, err := os.ReadFile("testdata/paragraphs.txt")
	if err != nil {
		b.Fatal(err)
	}
	subjects := readGolden(b).Subjects
	for _, mb := range []int{8, 64} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "p.txt")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for n < mb<<20 {
				f.Write(paras)
				n += len(paras)
			}
			f.Close()
			b.SetBytes(int64(n))
			for b.Loop() {
				ix := NewIndex(subjects)
				if err := ix.build(path, path, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
