package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// excerptRE finds the code blocks of docs/plugins.md that quote a file:
// a marker comment naming the file, then a fenced block.
var excerptRE = regexp.MustCompile("(?s)<!-- excerpt: (\\S+) -->\n```[a-z]*\n(.*?)```")

// TestGuideExcerptsMatchCode keeps the plugin author's guide true to this
// example: every quoted block must appear verbatim in the file it names.
func TestGuideExcerptsMatchCode(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	guide, err := os.ReadFile(filepath.Join(root, "docs", "plugins.md"))
	if err != nil {
		t.Fatal(err)
	}
	matches := excerptRE.FindAllStringSubmatch(string(guide), -1)
	if len(matches) < 5 {
		t.Fatalf("found %d excerpts in docs/plugins.md, want the example's", len(matches))
	}
	for _, m := range matches {
		src, err := os.ReadFile(filepath.Join(root, m[1]))
		if err != nil {
			t.Errorf("excerpt of %s: %v", m[1], err)
			continue
		}
		if !strings.Contains(string(src), m[2]) {
			t.Errorf("docs/plugins.md quotes %s, which no longer contains:\n%s", m[1], m[2])
		}
	}

	manifest, err := os.ReadFile("plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(guide), "```json\n"+string(manifest)+"```") {
		t.Error("docs/plugins.md does not show plugin.json as it is")
	}
}
