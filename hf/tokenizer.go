package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Tokenizer is a byte-level BPE tokenizer read from tokenizer.json (and tokenizer_config.json when the
// directory has one).
type Tokenizer struct {
	Path        string         // tokenizer.json it came from ("" when parsed from bytes)
	Model       string         // model.type; always "BPE" after a successful parse
	Vocab       map[string]int // model.vocab: token → id
	Merges      []string       // model.merges, each as "a b"
	AddedTokens []AddedToken   // added_tokens, in file order
	Config      TokenizerConfig
}

// AddedToken is one entry of added_tokens.
type AddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	Normalized bool   `json:"normalized"`
}

// TokenizerConfig holds the tokenizer_config.json fields a converter needs. Token fields are the token
// strings ("" when null or absent); the flags are nil when absent.
type TokenizerConfig struct {
	BOSToken, EOSToken, PadToken, UnkToken string
	AddBOSToken, AddEOSToken               *bool
	ChatTemplate                           string
	TokenizerClass                         string
}

// LoadTokenizer reads dir/tokenizer.json and, if present, dir/tokenizer_config.json. Errors name the file.
func LoadTokenizer(dir string) (*Tokenizer, error) {
	p := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	tok, err := ParseTokenizer(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	tok.Path = p
	cp := filepath.Join(dir, "tokenizer_config.json")
	if b, err := os.ReadFile(cp); err == nil {
		if tok.Config, err = ParseTokenizerConfig(b); err != nil {
			return nil, fmt.Errorf("%s: %w", cp, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return tok, nil
}

// ParseTokenizer parses the contents of a tokenizer.json. Only BPE models with merges are accepted:
// llama.cpp's gpt2 vocabulary cannot tokenize without them.
func ParseTokenizer(data []byte) (*Tokenizer, error) {
	var f struct {
		AddedTokens []AddedToken `json:"added_tokens"`
		Model       *struct {
			Type   string            `json:"type"`
			Vocab  json.RawMessage   `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("bad tokenizer JSON: %v", err)
	}
	if f.Model == nil {
		return nil, errors.New("no model section")
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer model type %q is not BPE", f.Model.Type)
	}
	t := &Tokenizer{Model: f.Model.Type, AddedTokens: f.AddedTokens}
	if err := json.Unmarshal(f.Model.Vocab, &t.Vocab); err != nil || len(t.Vocab) == 0 {
		return nil, fmt.Errorf("model.vocab is missing or not a token→id object")
	}
	for tok, id := range t.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("model.vocab: token %q has negative id %d", tok, id)
		}
	}
	for i, at := range t.AddedTokens {
		if at.ID < 0 {
			return nil, fmt.Errorf("added_tokens[%d] %q has negative id %d", i, at.Content, at.ID)
		}
	}
	if len(f.Model.Merges) == 0 {
		return nil, errors.New("BPE tokenizer has no merges")
	}
	t.Merges = make([]string, len(f.Model.Merges))
	for i, m := range f.Model.Merges {
		s, err := parseMerge(m)
		if err != nil {
			return nil, fmt.Errorf("model.merges[%d]: %v", i, err)
		}
		t.Merges[i] = s
	}
	return t, nil
}

// parseMerge accepts both serialisations of tokenizers: "a b" (before 0.20) and ["a", "b"].
func parseMerge(m json.RawMessage) (string, error) {
	m = bytes.TrimSpace(m)
	if len(m) > 0 && m[0] == '"' {
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return "", err
		}
		if i := strings.IndexByte(s, ' '); i <= 0 || i == len(s)-1 {
			return "", fmt.Errorf("merge %q is not \"a b\"", s)
		}
		return s, nil
	}
	var p []string
	if err := json.Unmarshal(m, &p); err != nil || len(p) != 2 || p[0] == "" || p[1] == "" {
		return "", fmt.Errorf("merge %s is neither \"a b\" nor a pair of tokens", m)
	}
	return p[0] + " " + p[1], nil
}

// ParseTokenizerConfig parses tokenizer_config.json. Token fields may be strings, {"content": …}
// objects or null.
func ParseTokenizerConfig(data []byte) (TokenizerConfig, error) {
	var f struct {
		BOS            json.RawMessage `json:"bos_token"`
		EOS            json.RawMessage `json:"eos_token"`
		Pad            json.RawMessage `json:"pad_token"`
		Unk            json.RawMessage `json:"unk_token"`
		AddBOS         *bool           `json:"add_bos_token"`
		AddEOS         *bool           `json:"add_eos_token"`
		ChatTemplate   json.RawMessage `json:"chat_template"`
		TokenizerClass string          `json:"tokenizer_class"`
	}
	var c TokenizerConfig
	if err := json.Unmarshal(data, &f); err != nil {
		return c, fmt.Errorf("bad tokenizer config JSON: %v", err)
	}
	c.AddBOSToken, c.AddEOSToken, c.TokenizerClass = f.AddBOS, f.AddEOS, f.TokenizerClass
	for _, x := range []struct {
		raw json.RawMessage
		dst *string
		key string
	}{{f.BOS, &c.BOSToken, "bos_token"}, {f.EOS, &c.EOSToken, "eos_token"}, {f.Pad, &c.PadToken, "pad_token"}, {f.Unk, &c.UnkToken, "unk_token"}} {
		s, err := tokenString(x.raw)
		if err != nil {
			return c, fmt.Errorf("%s: %v", x.key, err)
		}
		*x.dst = s
	}
	if len(f.ChatTemplate) > 0 && string(f.ChatTemplate) != "null" {
		// A list of named templates is kept only if it has a "default" entry.
		if err := json.Unmarshal(f.ChatTemplate, &c.ChatTemplate); err != nil {
			var named []struct{ Name, Template string }
			if err := json.Unmarshal(f.ChatTemplate, &named); err != nil {
				return c, fmt.Errorf("chat_template is neither a string nor a list of named templates")
			}
			for _, n := range named {
				if n.Name == "default" {
					c.ChatTemplate = n.Template
				}
			}
		}
	}
	return c, nil
}

func tokenString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", fmt.Errorf("neither a string nor an object with content")
	}
	return o.Content, nil
}

// ID looks a token up among the added tokens first (they override the model vocabulary), then in the
// vocabulary.
func (t *Tokenizer) ID(token string) (int, bool) {
	for _, at := range t.AddedTokens {
		if at.Content == token {
			return at.ID, true
		}
	}
	id, ok := t.Vocab[token]
	return id, ok
}

// MaxID is the largest token id in the vocabulary or the added tokens.
func (t *Tokenizer) MaxID() int {
	m := -1
	for _, id := range t.Vocab {
		m = max(m, id)
	}
	for _, at := range t.AddedTokens {
		m = max(m, at.ID)
	}
	return m
}
