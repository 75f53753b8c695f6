// Package bench holds servagent's benchmarks over real loopback HTTP. Every
// figure is paired with the same figure for a floor server (bench/floorsrv)
// measured in the same run, and reported as a ratio to it: the box is
// shared and noisy, absolute numbers are not comparable between runs.
//
// Run everything with `bash bench/run.sh`; see bench/README.md.
package bench
