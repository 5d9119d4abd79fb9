// Package dataset reads evaluation text and builds and streams token datasets: the rows that every
// wcos experiment feeds to the model (paper-spec §4.4, §7: dolma-small).
//
// # Sources
//
// Open streams rows from, by type (DetectKind):
//   - JSONL (.jsonl, .ndjson, .json; plain, .gz or .zst), one object per line with "input_ids"
//     (used as given) or "text" (tokenised). Blank lines are skipped; other keys are ignored.
//   - .txt: one document per file; a directory without dataset markers reads every .txt below it,
//     in path order. (Not one row per paragraph: rows are meant to carry up to 1024 tokens of context.)
//   - Parquet with a "text" (string) or "input_ids" (list of int32/int64) column.
//   - Arrow IPC (.arrow, stream or file format) and a Hugging Face save_to_disk directory
//     (state.json/dataset_info.json + data-*.arrow, read in state.json's order), same columns.
//   - A wcos token dataset directory (below), re-validated like input_ids.
//
// When a row has both, input_ids wins (dolma-small stores text, input_ids and attention_mask; the
// paper's experiments use input_ids); Options.Field forces one. Text rows are tokenised without
// special-token parsing, truncated to MaxLength−1 and prefixed with the tokenizer's BOS (OLMo has no
// BOS and takes the EOS id: HF add_bos_token with bos := eos); an empty text becomes a BOS-only row, as in HF. input_ids
// rows are never changed: ids must be in [0, vocab), the row non-empty and at most MaxLength long
// (else an error, or a cut with Options.TruncateIDs). MaxTokens keeps the shortest prefix of rows whose token count reaches it.
// A bad row is a one-line error naming the file and line (JSONL) or row (columnar, 0-based).
// Sources are read one line, record batch or Parquet page at a time, so memory does not grow
// with the source; only the current document is held.
//
// # On-disk token dataset (format_version 1)
//
// A directory, written under a temporary name beside the target and renamed into place when
// complete (Create/Commit), so a partial data set is never visible:
//
//	tokens.bin   int32 little-endian ids, all rows concatenated (n_tokens values)
//	offsets.bin  int64 little-endian, n_rows+1 values: row i is tokens[offsets[i]:offsets[i+1]]
//	meta.json    format, counts, dtypes, sha256 of both .bin files, max_length, max_tokens, bos_id,
//	             eos_id, vocab_size, the tokenizer's provenance (model path/hash, Fingerprint), the
//	             sources with their files' sha256 and how many rows/tokens each gave, wcos version,
//	             creation time
//
// In numpy: ids = np.fromfile("tokens.bin", "<i4") (or np.memmap), off = np.fromfile("offsets.bin",
// "<i8"), row i = ids[off[i]:off[i+1]]. Raw files rather than safetensors because they are written
// in one streaming pass (safetensors needs every size in its header first) and stay memory-mappable.
// OpenTokens holds only the offsets (8 bytes/row) in memory; Tokens.Row is random access and
// Tokens.Rows streams a range, which is what --shard i/n (ShardRange) and resuming need.
// docs/dataset-format.md describes the same for readers outside Go.
//
// Tests here are pure Go (a byte tokenizer); dataset/enginetest checks the real llama.cpp tokenizer.
package dataset
