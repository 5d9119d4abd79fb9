package wiki

import (
	"container/heap"
	"math"
	"runtime"
	"sync"
)

// BM25 parameters: bm25s's defaults (method "lucene").
const (
	K1 = 1.5
	B  = 0.75
)

// Index is a BM25 index over paragraphs whose vocabulary is the words of the queries, as the
// reference builds it: bm25s's Tokenizer learns its vocabulary from the subjects and then tokenizes the
// corpus with update_vocab=False, which drops every other word. A paragraph's length is therefore its
// number of query words, and a paragraph with none is bm25s's empty token "" (length 1).
type Index struct {
	vocab    map[string]int32 // query word → term id; "" is term 0
	postings [][]posting      // per term (0 unused: see empty)
	length   []uint32         // per paragraph: query words in it, 0 for the empty token
	empty    int              // paragraphs with the empty token
	total    int64            // sum of lengths (the empty token counts 1)
}

type posting struct{ doc, tf uint32 }

// NewIndex starts an index whose vocabulary is the non-stopword words of the queries.
func NewIndex(queries []string) *Index {
	ix := &Index{vocab: map[string]int32{"": 0}, postings: [][]posting{nil}}
	for _, q := range queries {
		for _, w := range Words(q) {
			if _, ok := ix.vocab[w]; !ok && !Stopwords[w] {
				ix.vocab[w] = int32(len(ix.postings))
				ix.postings = append(ix.postings, nil)
			}
		}
	}
	return ix
}

// Query is the term ids of q as bm25s scores it: each non-stopword word in order, repeats counted;
// the empty token "" when none is left.
func (ix *Index) Query(q string) []int32 {
	var ids []int32
	for _, w := range Words(q) {
		if id, ok := ix.vocab[w]; ok && id > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		ids = []int32{0}
	}
	return ids
}

// Docs returns how many paragraphs the index holds.
func (ix *Index) Docs() int { return len(ix.length) }

// AvgLength is bm25s's avg_doc_len.
func (ix *Index) AvgLength() float64 { return float64(ix.total) / float64(len(ix.length)) }

// Terms is the vocabulary's size, the empty token included.
func (ix *Index) Terms() int { return len(ix.vocab) }

// docTerms is one paragraph's term counts, built by a worker.
type docTerms struct {
	ids    []int32
	counts []uint32
}

// count tokenizes a paragraph into d (reused) and returns its length (0: the empty token).
func (ix *Index) count(text string, d *docTerms, buf *[]byte) uint32 {
	d.ids, d.counts = d.ids[:0], d.counts[:0]
	var n uint32
	eachWord(text, buf, func(w []byte) {
		id, ok := ix.vocab[string(w)] // no allocation: the conversion is only a map key
		if !ok || id == 0 {
			return
		}
		n++
		for i, have := range d.ids {
			if have == id {
				d.counts[i]++
				return
			}
		}
		d.ids = append(d.ids, id)
		d.counts = append(d.counts, 1)
	})
	return n
}

// chunkPostings is the index of the paragraphs first, first+1, …, built by one worker.
type chunkPostings struct {
	first  uint32
	length []uint32
	terms  map[int32][]posting
}

// indexChunk tokenizes one chunk of paragraphs.
func (ix *Index) indexChunk(first uint32, paras []string, buf *[]byte) chunkPostings {
	c := chunkPostings{first: first, length: make([]uint32, len(paras)), terms: map[int32][]posting{}}
	var d docTerms
	for i, p := range paras {
		c.length[i] = ix.count(p, &d, buf)
		for j, id := range d.ids {
			c.terms[id] = append(c.terms[id], posting{first + uint32(i), d.counts[j]})
		}
	}
	return c
}

// merge adds a chunk's postings and lengths (chunks may come in any order).
func (ix *Index) merge(c chunkPostings) {
	if need := int(c.first) + len(c.length); need > len(ix.length) {
		ix.length = append(ix.length, make([]uint32, need-len(ix.length))...)
	}
	copy(ix.length[c.first:], c.length)
	for _, n := range c.length {
		if n == 0 {
			ix.empty++
			ix.total++
		} else {
			ix.total += int64(n)
		}
	}
	for id, ps := range c.terms {
		ix.postings[id] = append(ix.postings[id], ps...)
	}
}

// idf is bm25s's Lucene idf, stored as float32 (bm25s's idf_array).
func (ix *Index) idf(id int32) float32 {
	df := float64(ix.empty)
	if id > 0 {
		df = float64(len(ix.postings[id]))
	}
	n := float64(len(ix.length))
	return float32(math.Log(1 + (n-df+0.5)/(df+0.5)))
}

// termScore is bm25s's stored score of one term in one paragraph: idf·tf/(k1·(1−b+b·len/avg)+tf),
// computed in float64 (NumPy 2 promotes the float32 tf and idf with the float64 average length) and
// stored as float32.
func termScore(idf float32, tf, length uint32, avg float64) float32 {
	l := float64(length)
	if length == 0 {
		l = 1 // the empty token
	}
	t := float64(tf)
	return float32(float64(idf) * (t / (K1*((1-B)+B*l/avg) + t)))
}

// Hit is one retrieved paragraph.
type Hit struct {
	Doc   uint32  `json:"paragraph"` // index among the non-blank lines of paragraphs.txt
	Score float32 `json:"score"`
}

// TopK returns, for each query (term ids, see Query), its k best paragraphs by score, best first, as
// bm25s's retrieve: scores summed in float32 over the query's terms in order. Ties go to the earlier
// paragraph; when fewer than k paragraphs score above 0, the earliest others fill up the list with
// score 0 (bm25s picks some zero-score paragraphs; which ones is up to its top-k selection).
func (ix *Index) TopK(queries [][]int32, k int) [][]Hit {
	out := make([][]Hit, len(queries))
	k = min(k, len(ix.length))
	workers := min(runtime.GOMAXPROCS(0), 4, max(1, len(queries)))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scores := make([]float32, len(ix.length))
			var touched []uint32
			for qi := range next {
				out[qi], touched = ix.topK(queries[qi], k, scores, touched[:0])
			}
		}()
	}
	for i := range queries {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (ix *Index) topK(q []int32, k int, scores []float32, touched []uint32) ([]Hit, []uint32) {
	avg := ix.AvgLength()
	for _, id := range q {
		idf := ix.idf(id)
		if id == 0 {
			s := termScore(idf, 1, 0, avg)
			for d, n := range ix.length {
				if n == 0 {
					if scores[d] == 0 {
						touched = append(touched, uint32(d))
					}
					scores[d] += s
				}
			}
			continue
		}
		for _, p := range ix.postings[id] {
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += termScore(idf, p.tf, ix.length[p.doc], avg)
		}
	}
	h := make(hitHeap, 0, k+1)
	for _, d := range touched {
		h.offer(Hit{d, scores[d]}, k)
		scores[d] = 0
	}
	// Fill up with the earliest zero-score paragraphs.
	for d := 0; len(h) < k && d < len(ix.length); d++ {
		if !h.has(uint32(d)) {
			heap.Push(&h, Hit{uint32(d), 0})
		}
	}
	hits := make([]Hit, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		hits[i] = heap.Pop(&h).(Hit)
	}
	return hits, touched
}

// better orders hits: higher score first, then the earlier paragraph.
func better(a, b Hit) bool { return a.Score > b.Score || a.Score == b.Score && a.Doc < b.Doc }

// hitHeap keeps the k best hits with the worst on top.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *hitHeap) offer(x Hit, k int) {
	if len(*h) < k {
		heap.Push(h, x)
	} else if k > 0 && better(x, (*h)[0]) {
		(*h)[0] = x
		heap.Fix(h, 0)
	}
}

func (h hitHeap) has(d uint32) bool {
	for _, x := range h {
		if x.Doc == d {
			return true
		}
	}
	return false
}
