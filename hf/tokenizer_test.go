package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTokenizer(t *testing.T) {
	cases := []struct {
		name    string
		json    string
		merges  []string
		wantErr string
	}{
		{"string merges", `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`, []string{"a b"}, ""},
		{"pair merges", `{"model":{"type":"BPE","vocab":{"a":0,"b c":1},"merges":[["a","b c"],["x","y"]]}}`, []string{"a b c", "x y"}, ""},
		{"added tokens", `{"added_tokens":[{"id":3,"content":"<|endoftext|>","special":true}],"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]}}`, []string{"a a"}, ""},
		{"no merges", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, nil, "no merges"},
		{"merges absent", `{"model":{"type":"BPE","vocab":{"a":0}}}`, nil, "no merges"},
		{"not BPE", `{"model":{"type":"WordPiece","vocab":{"a":0}}}`, nil, "not BPE"},
		{"no model", `{"added_tokens":[]}`, nil, "no model"},
		{"vocab is a list", `{"model":{"type":"BPE","vocab":[["a",0.5]],"merges":["a a"]}}`, nil, "model.vocab"},
		{"negative id", `{"model":{"type":"BPE","vocab":{"a":-1},"merges":["a a"]}}`, nil, "negative id"},
		{"merge without space", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["ab"]}}`, nil, "merges[0]"},
		{"merge with leading space", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[" ab"]}}`, nil, "merges[0]"},
		{"triple merge", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","b","c"]]}}`, nil, "merges[0]"},
		{"not JSON", `{"model":`, nil, "bad tokenizer JSON"},
	}
	for _, c := range cases {
		tok, err := ParseTokenizer([]byte(c.json))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if strings.Join(tok.Merges, "|") != strings.Join(c.merges, "|") {
			t.Errorf("%s: merges %q, want %q", c.name, tok.Merges, c.merges)
		}
	}
}

func TestParseTokenizerConfig(t *testing.T) {
	cases := []struct {
		name, json    string
		bos, eos, pad string
		addBOS        *bool
		template      string
		wantErr       bool
	}{
		{name: "strings and null", json: `{"bos_token":null,"eos_token":"<|endoftext|>","pad_token":"<|padding|>","add_bos_token":false}`,
			eos: "<|endoftext|>", pad: "<|padding|>", addBOS: new(false)},
		{name: "objects", json: `{"bos_token":{"content":"<s>","lstrip":false},"eos_token":{"content":"</s>"}}`, bos: "<s>", eos: "</s>"},
		{name: "template string", json: `{"chat_template":"{{ x }}"}`, template: "{{ x }}"},
		{name: "named templates", json: `{"chat_template":[{"name":"tool_use","template":"T"},{"name":"default","template":"D"}]}`, template: "D"},
		{name: "bad token", json: `{"eos_token":3}`, wantErr: true},
		{name: "bad template", json: `{"chat_template":3}`, wantErr: true},
	}
	for _, c := range cases {
		got, err := ParseTokenizerConfig([]byte(c.json))
		if (err != nil) != c.wantErr {
			t.Errorf("%s: error %v, want error %v", c.name, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if got.BOSToken != c.bos || got.EOSToken != c.eos || got.PadToken != c.pad || got.ChatTemplate != c.template {
			t.Errorf("%s: got %+v", c.name, got)
		}
		if (c.addBOS == nil) != (got.AddBOSToken == nil) || (c.addBOS != nil && *c.addBOS != *got.AddBOSToken) {
			t.Errorf("%s: add_bos_token %v, want %v", c.name, got.AddBOSToken, c.addBOS)
		}
	}
}

// TestLoadTokenizerTinyOLMo checks the shipped GPT-NeoX tokenizer: the counts below are those of
// tokenizer.json (model.vocab 50254 entries, 50009 merges, 25 added tokens).
func TestLoadTokenizerTinyOLMo(t *testing.T) {
	tok, err := LoadTokenizer("../models/tiny-olmo")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Vocab) != 50254 || len(tok.Merges) != 50009 || len(tok.AddedTokens) != 25 {
		t.Fatalf("vocab %d, merges %d, added %d; want 50254, 50009, 25", len(tok.Vocab), len(tok.Merges), len(tok.AddedTokens))
	}
	if tok.Merges[0] != "Ġ Ġ" || tok.MaxID() != 50276 {
		t.Errorf("first merge %q, max id %d", tok.Merges[0], tok.MaxID())
	}
	if id, ok := tok.ID("<|padding|>"); !ok || id != 1 {
		t.Errorf("<|padding|> id %d %v", id, ok)
	}
	if id, ok := tok.ID("  "); !ok || id != 50276 {
		t.Errorf("two-space added token id %d %v", id, ok)
	}
	if tok.Config.EOSToken != "<|endoftext|>" || tok.Config.AddBOSToken == nil || *tok.Config.AddBOSToken {
		t.Errorf("tokenizer_config: %+v", tok.Config)
	}
}

func TestLoadTokenizerErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(p, []byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTokenizer(dir)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "no merges") {
		t.Errorf("error %v, want one naming %s and the missing merges", err, p)
	}
	os.WriteFile(p, []byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]}}`), 0o644)
	cp := filepath.Join(dir, "tokenizer_config.json")
	os.WriteFile(cp, []byte(`{"eos_token":`), 0o644)
	if _, err := LoadTokenizer(dir); err == nil || !strings.Contains(err.Error(), cp) {
		t.Errorf("error %v, want one naming %s", err, cp)
	}
}

func FuzzParseTokenizer(f *testing.F) {
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}}`))
	f.Add([]byte(`{"added_tokens":[{"id":2,"content":"<|x|>","special":true}],"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","a"]]}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[" a","a ",["a"],3]}}`))
	f.Add([]byte(`{"model":{"type":"Unigram","vocab":[["a",0]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseTokenizer(data)
		if err != nil {
			return
		}
		if tok.Model != "BPE" || len(tok.Merges) == 0 || len(tok.Vocab) == 0 {
			t.Fatalf("accepted a tokenizer without BPE model, merges or vocab: %+v", tok)
		}
		for _, m := range tok.Merges {
			if i := strings.IndexByte(m, ' '); i <= 0 || i == len(m)-1 {
				t.Fatalf("merge %q cannot be split into two tokens", m)
			}
		}
		for _, id := range tok.Vocab {
			if id < 0 {
				t.Fatalf("negative id %d", id)
			}
		}
		if tok.MaxID() < 0 {
			t.Fatalf("MaxID %d with a non-empty vocabulary", tok.MaxID())
		}
	})
}
