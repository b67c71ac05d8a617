package apptest

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// testFunc is the first line of a test function in a README snippet.
var testFunc = regexp.MustCompile(`^func Test\w*\(t \*testing\.T\) \{$`)

// CheckSnippet fails the test unless the n-th (from 0) Go code block of
// the README section headed "## "+section is the code of the Example in
// the file source: the block's lines before the line that opens a test
// function (func TestX(t *testing.T) {), and the lines of that function's
// body, must each appear, as they are and in one piece, in source. So the
// README can show the Example's code as the test function a user writes,
// and not drift from it.
func CheckSnippet(t testing.TB, readme, section string, n int, source string) {
	t.Helper()
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(sectionOf(string(doc), section))
	if n >= len(blocks) {
		t.Fatalf("%s, section %q: %d Go blocks, want block %d", readme, section, len(blocks), n)
	}
	lines := blocks[n]
	var parts [][]string
	start := 0
	for i, l := range lines {
		if testFunc.MatchString(l) {
			parts = append(parts, lines[start:i])
			start = i + 1
			if lines[len(lines)-1] != "}" {
				t.Fatalf("%s, section %q, block %d: the test function does not end the block", readme, section, n)
			}
			lines = lines[:len(lines)-1] // the test function's closing brace
		}
	}
	parts = append(parts, lines[start:])
	for _, p := range parts {
		text := strings.Join(p, "\n")
		if strings.TrimSpace(text) != "" && !strings.Contains(string(src), text+"\n") {
			t.Errorf("%s, section %q, block %d: this code is not in %s:\n%s", readme, section, n, source, text)
		}
	}
}

// sectionOf returns the text of the section headed "## "+title, up to the
// next heading of that level.
func sectionOf(doc, title string) string {
	_, rest, ok := strings.Cut("\n"+doc, "\n## "+title+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// goBlocks returns the lines of each ```go block of text.
func goBlocks(text string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case !in && l == "```go":
			in, cur = true, nil
		case in && l == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}
