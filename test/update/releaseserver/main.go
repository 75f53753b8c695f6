// Command releaseserver plays the GitHub releases API and download host for
// `servagent update` and install.sh tests (and for trying a mirror by hand).
// Every subdirectory of -dir is a release named after it (v1.2.3), and every
// file in it an asset:
//
//	GET /repos/servagent/servagent/releases          the release list (JSON)
//	GET /repos/servagent/servagent/releases/latest   the newest by name order
//	GET /download/<tag>/<file>                        an asset
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
)

type asset struct {
	Name string `json:"name"`
	URL  string `json:"browser_download_url"`
}

type release struct {
	TagName string  `json:"tag_name"`
	Assets  []asset `json:"assets"`
}

func main() {
	dir := flag.String("dir", ".", "directory of releases")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	list := func() []release {
		entries, _ := os.ReadDir(*dir)
		var rels []release
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			r := release{TagName: e.Name()}
			files, _ := os.ReadDir(filepath.Join(*dir, e.Name()))
			for _, f := range files {
				r.Assets = append(r.Assets, asset{Name: f.Name(), URL: base + "/download/" + e.Name() + "/" + f.Name()})
			}
			rels = append(rels, r)
		}
		sort.Slice(rels, func(i, j int) bool { return rels[i].TagName > rels[j].TagName })
		return rels
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/servagent/servagent/releases", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(list())
	})
	mux.HandleFunc("GET /repos/servagent/servagent/releases/latest", func(w http.ResponseWriter, r *http.Request) {
		rels := list()
		if len(rels) == 0 {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(rels[0])
	})
	mux.Handle("GET /download/", http.StripPrefix("/download/", http.FileServer(http.Dir(*dir))))
	log.Printf("serving releases from %s on %s", *dir, base)
	log.Fatal(http.Serve(ln, mux))
}
