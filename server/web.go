package server

import (
	"embed"
	"net/http"
	"path"

	"github.com/llamago/llamago/engine/attnviz"
)

// web holds the page served at / and its script and styles: everything it loads comes from this server.
//
//go:embed web
var web embed.FS

// pageCSP lets the page load only this server's scripts and styles and talk only to this server.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := web.ReadFile("web/index.html")
	if err != nil {
		fail(w, err)
		return
	}
	serveAsset(w, "text/html; charset=utf-8", b)
}

// asset serves /ui/FILE: the page's own files, and the attention views' renderer and styles, the same ones
// the index.html of llamago attention inlines.
func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var body []byte
	switch name {
	case "attnviz.js":
		body = []byte(attnviz.Script)
	case "attnviz.css":
		body = []byte(attnviz.Styles)
	default:
		b, err := web.ReadFile(path.Join("web", path.Base(name)))
		if err != nil || name == "index.html" {
			writeError(w, http.StatusNotFound, "not_found_error", "", "no such file: "+name)
			return
		}
		body = b
	}
	typ := "application/octet-stream"
	switch path.Ext(name) {
	case ".js":
		typ = "text/javascript; charset=utf-8"
	case ".css":
		typ = "text/css; charset=utf-8"
	}
	serveAsset(w, typ, body)
}

func serveAsset(w http.ResponseWriter, typ string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
