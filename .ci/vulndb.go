//go:build ignore

// vulndb tells .ci/vulncheck.sh which Go vulnerability database it can use
// and how old that database is. Standard library only; run it as
//
//	go run .ci/vulndb.go probe URL   # a live database (HTTP API, v1 schema)
//	go run .ci/vulndb.go local DIR   # a folder of OSV entries
//
// Each prints one line, "DATE SOURCE", where DATE (YYYY-MM-DD) is the last
// time the database was updated and SOURCE says where that date came from,
// and exits 1 with the reason on stderr when the database cannot be used.
//
// probe fetches URL/index/db.json.gz within -timeout and reads its
// "modified" field. local counts the GO-*.json entries of DIR (a folder
// with none is not a database) and dates it by the newest of the
// "modified" and "published" fields of the entries and a YYYY-MM-DD date in
// DIR/README.md: the OSV files of the golang/vulndb repository carry zero
// "modified" times (the live database fills them in when it publishes), so
// the README of a snapshot is often the only record of its date.
//
// govulncheck needs nothing more: given file://DIR without an index/ folder
// it builds the index in memory from the OSV files (the "hybrid" source of
// golang.org/x/vuln/internal/client), so DIR is read as it is and never
// written.
package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

func main() {
	timeout := flag.Duration("timeout", 5*time.Second, "probe: give up after this long")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: vulndb [-timeout 5s] probe URL | local DIR")
		os.Exit(2)
	}
	var (
		date time.Time
		src  string
		err  error
	)
	switch flag.Arg(0) {
	case "probe":
		date, src, err = probe(flag.Arg(1), *timeout)
	case "local":
		date, src, err = local(flag.Arg(1))
	default:
		err = fmt.Errorf("unknown command %q", flag.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
	fmt.Println(date.UTC().Format(time.DateOnly), src)
}

func probe(url string, timeout time.Duration) (time.Time, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	endpoint := strings.TrimRight(url, "/") + "/index/db.json.gz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return time.Time{}, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, "", fmt.Errorf("%s: %s", endpoint, resp.Status)
	}
	zr, err := gzip.NewReader(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%s: %v", endpoint, err)
	}
	var meta struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.NewDecoder(zr).Decode(&meta); err != nil {
		return time.Time{}, "", fmt.Errorf("%s: %v", endpoint, err)
	}
	if meta.Modified.IsZero() {
		return time.Time{}, "", fmt.Errorf("%s: no modified time", endpoint)
	}
	return meta.Modified, "index/db.json", nil
}

var readmeDate = regexp.MustCompile(`\b20[0-9]{2}-[01][0-9]-[0-3][0-9]\b`)

func local(dir string) (time.Time, string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "GO-*.json"))
	if err != nil {
		return time.Time{}, "", err
	}
	if len(files) == 0 {
		return time.Time{}, "", fmt.Errorf("%s: no GO-*.json entries", dir)
	}
	var newest time.Time
	src := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return time.Time{}, "", err
		}
		var e struct {
			Modified  time.Time `json:"modified"`
			Published time.Time `json:"published"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			return time.Time{}, "", fmt.Errorf("%s: %v", f, err)
		}
		for _, t := range []time.Time{e.Modified, e.Published} {
			if t.After(newest) {
				newest, src = t, "newest entry"
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "README.md")); err == nil {
		for _, m := range readmeDate.FindAllString(string(b), -1) {
			if t, err := time.Parse(time.DateOnly, m); err == nil && t.After(newest) {
				newest, src = t, "README.md"
			}
		}
	}
	if newest.IsZero() {
		return time.Time{}, "", fmt.Errorf("%s: %d entries but no date in them or in README.md", dir, len(files))
	}
	return newest, fmt.Sprintf("%s, %d entries", src, len(files)), nil
}
