package textedit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/servagent/servagent/pkg/textutil"
)

// NearMatches lists the file lines most similar to old's first non-blank
// line, with 1-based line numbers.
func NearMatches(text, old string, n int) string {
	var needle string
	for l := range strings.SplitSeq(old, "\n") {
		if strings.TrimSpace(l) != "" {
			needle = l
			break
		}
	}
	if needle == "" {
		return ""
	}
	needle = textutil.Clip(needle, 300)
	ng := bigrams(strings.TrimSpace(needle))
	type cand struct {
		line  int
		score float64
		text  string
	}
	var best []cand
	lineNo := 0
	for l := range strings.SplitSeq(text, "\n") {
		lineNo++
		if lineNo > 200_000 {
			break
		}
		t := strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if t == "" {
			continue
		}
		s := similarity(ng, strings.TrimSpace(needle), textutil.Clip(t, 300))
		if s < 0.3 {
			continue
		}
		best = append(best, cand{lineNo, s, l})
		slices.SortStableFunc(best, func(a, b cand) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return 0
		})
		if len(best) > n {
			best = best[:n]
		}
	}
	var b strings.Builder
	for _, c := range best {
		fmt.Fprintf(&b, "  line %d (%.0f%% similar): %s\n", c.line, c.score*100, textutil.Clip(c.text, 200))
	}
	return b.String()
}

func bigrams(s string) map[string]int {
	m := map[string]int{}
	for i := 0; i+2 <= len(s); i++ {
		m[s[i:i+2]]++
	}
	return m
}

// similarity is the Dice coefficient of byte bigrams; identical trimmed
// lines (an indentation-only difference) score 1.
func similarity(ng map[string]int, needle, line string) float64 {
	if needle == line {
		return 1
	}
	if len(needle) < 2 || len(line) < 2 {
		return 0
	}
	seen := map[string]int{}
	common := 0
	for i := 0; i+2 <= len(line); i++ {
		g := line[i : i+2]
		if seen[g] < ng[g] {
			common++
		}
		seen[g]++
	}
	return 2 * float64(common) / float64(len(needle)-1+len(line)-1)
}
