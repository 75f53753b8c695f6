// Command floor serves the benchmark floor (see bench/floorsrv) as its own
// process, for the cold-start, idle-RSS and upload benchmarks.
//
//	floor -addr 127.0.0.1:8766 -upload-dir /tmp/x
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/servagent/servagent/bench/floorsrv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8766", "listen address")
	dir := flag.String("upload-dir", "", "directory /upload writes into (empty: no /upload)")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, floorsrv.Handler(*dir)))
}
