package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ReadPrompts reads a prompts file: JSONL when its name ends in .jsonl or .json (one object a line,
// its "prompt", else its "text"), otherwise plain text, one prompt a line. Blank lines are skipped.
func ReadPrompts(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	jsonl := strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".json")
	var out []string
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !jsonl {
			out = append(out, string(line))
			continue
		}
		var rec struct {
			Prompt *string `json:"prompt"`
			Text   *string `json:"text"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		switch {
		case rec.Prompt != nil:
			out = append(out, *rec.Prompt)
		case rec.Text != nil:
			out = append(out, *rec.Text)
		default:
			return nil, fmt.Errorf("%s:%d: want an object with \"prompt\" or \"text\"", path, i+1)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}
