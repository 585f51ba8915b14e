// Package workload builds benchmark request bodies from real prompts: hot
// sets for the hit path, unique prompts for the miss path, and a Zipf mix
// sent in the byte spellings of different SDKs.
package workload

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"

	"github.com/dittocache/ditto/benchmarks"
)

// Prompt is one user message from the sample.
type Prompt struct {
	Source string // "gsm8k", "mt_bench" or "awesome-chatgpt-prompts"
	Text   string
}

// Prompts loads the embedded sample: GSM8K questions, MT-Bench first turns
// and awesome-chatgpt-prompts prompts, in file order.
func Prompts() ([]Prompt, error) {
	return load(benchmarks.Prompts)
}

func load(fsys fs.FS) ([]Prompt, error) {
	var out []Prompt
	gsm, err := jsonLines(fsys, "testdata/gsm8k.test.sample.jsonl", func(line []byte) (string, error) {
		var v struct{ Question string }
		err := json.Unmarshal(line, &v)
		return v.Question, err
	})
	if err != nil {
		return nil, err
	}
	for _, t := range gsm {
		out = append(out, Prompt{"gsm8k", t})
	}
	mt, err := jsonLines(fsys, "testdata/mt_bench.question.jsonl", func(line []byte) (string, error) {
		var v struct{ Turns []string }
		err := json.Unmarshal(line, &v)
		if err == nil && len(v.Turns) == 0 {
			err = fmt.Errorf("no turns")
		}
		if err != nil {
			return "", err
		}
		return v.Turns[0], nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range mt {
		out = append(out, Prompt{"mt_bench", t})
	}
	f, err := fsys.Open("testdata/awesome-chatgpt-prompts.classic.sample.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("awesome-chatgpt-prompts: %w", err)
	}
	for _, rec := range recs[1:] { // skip the header
		out = append(out, Prompt{"awesome-chatgpt-prompts", rec[1]})
	}
	return out, nil
}

func jsonLines(fsys fs.FS, name string, field func([]byte) (string, error)) ([]string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var out []string
	r := bufio.NewReader(bytes.NewReader(b))
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			s, ferr := field(line)
			if ferr != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, ferr)
			}
			out = append(out, s)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
