package oidcgin

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// writerFor returns the gin.ResponseWriter to use while the core has handed
// on w: gin's own when w is it (the session was already loaded), else one
// that sends the header through w, the session manager's writer, so that
// the session cookie is set first.
func writerFor(g gin.ResponseWriter, w http.ResponseWriter) gin.ResponseWriter {
	if w == http.ResponseWriter(g) {
		return g
	}
	return &sessionWriter{ResponseWriter: g, w: w}
}

// sessionWriter is gin's writer with its header going out through w, which
// wraps that same gin writer. gin sets the status lazily (WriteHeader only
// records it); the header is written by WriteHeaderNow, Write, WriteString
// or Flush, and each of these first lets w write the session cookie.
type sessionWriter struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (s *sessionWriter) WriteHeaderNow() {
	if !s.ResponseWriter.Written() {
		// w writes the cookie, then calls gin's WriteHeader, which only
		// records the status (the same one).
		s.w.WriteHeader(s.ResponseWriter.Status())
		s.ResponseWriter.WriteHeaderNow()
	}
}

func (s *sessionWriter) Write(b []byte) (int, error) {
	s.WriteHeaderNow()
	return s.ResponseWriter.Write(b)
}

func (s *sessionWriter) WriteString(str string) (int, error) {
	s.WriteHeaderNow()
	return s.ResponseWriter.WriteString(str)
}

func (s *sessionWriter) Flush() {
	s.WriteHeaderNow()
	s.ResponseWriter.Flush()
}

// Unwrap lets http.ResponseController reach the writers underneath.
func (s *sessionWriter) Unwrap() http.ResponseWriter { return s.w }
