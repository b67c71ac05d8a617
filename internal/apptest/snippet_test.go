package apptest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

const source = `package x_test

import "fmt"

// greet is the app.
func greet() { fmt.Println("hi") }

func Example() {
	t := exampleT{}

	greet()
	if t == nil {
		t.Fatal("x")
	}
	fmt.Println("ok")
	// Output: ok
}
`

func TestCheckSnippet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		readme string
		block  int
		fails  int
	}{
		{"the example as a test", "# x\n\n## Testing\n\n```go\n// greet is the app.\nfunc greet() { fmt.Println(\"hi\") }\n\nfunc TestGreet(t *testing.T) {\n\tgreet()\n\tif t == nil {\n\t\tt.Fatal(\"x\")\n\t}\n}\n```\n\n## Next\n", 0, 0},
		{"a block of declarations only", "## Testing\n\n```sh\ngo test\n```\n\n```go\nimport \"fmt\"\n```\n", 0, 0},
		{"a changed line", "## Testing\n\n```go\nfunc TestGreet(t *testing.T) {\n\tgreet()\n\tgreet()\n}\n```\n", 0, 1},
		{"a changed declaration", "## Testing\n\n```go\n// greet greets.\nfunc greet() { fmt.Println(\"hi\") }\n```\n", 0, 1},
		{"a block in another section", "## Testing\n\ntext\n\n## Next\n\n```go\nimport \"fmt\"\n```\n", 0, 1},
		{"no such block", "## Testing\n\n```go\nimport \"fmt\"\n```\n", 1, 1},
		{"a test function that does not end the block", "## Testing\n\n```go\nfunc TestGreet(t *testing.T) {\n\tgreet()\n}\nvar x = 1\n```\n", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			readme, src := filepath.Join(dir, "README.md"), filepath.Join(dir, "example_test.go")
			if err := os.WriteFile(readme, []byte(tc.readme), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
				t.Fatal(err)
			}
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				CheckSnippet(r, readme, "Testing", tc.block, src)
			}()
			<-done
			if len(r.failures) != tc.fails {
				t.Errorf("%d failures %q, want %d", len(r.failures), r.failures, tc.fails)
			}
		})
	}
}
