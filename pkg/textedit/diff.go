// Package textedit holds the text algorithms of edit_file: the unified
// diff of a replacement and the finder of lines close to a failed match.
package textedit

import (
	"fmt"
	"io"
	"strings"
)

// region is a byte span of text in whole lines holding k matches.
type region struct{ s, e, k int }

// matchRegions finds the first n occurrences of old, widened to whole
// lines; overlapping ones merge.
func matchRegions(text, old, new string, n int) []region {
	var regs []region
	idx := 0
	for range n {
		i := strings.Index(text[idx:], old)
		if i < 0 {
			break
		}
		ms, me := idx+i, idx+i+len(old)
		s := strings.LastIndexByte(text[:ms], '\n') + 1
		e := me
		// A match ending a line whose replacement does not will join the
		// next line: show that line in the region too.
		joins := strings.HasSuffix(old, "\n") && !strings.HasSuffix(new, "\n") && me < len(text)
		if e == 0 || text[e-1] != '\n' || joins {
			if j := strings.IndexByte(text[e:], '\n'); j >= 0 {
				e += j + 1
			} else {
				e = len(text)
			}
		}
		if len(regs) > 0 && s < regs[len(regs)-1].e {
			regs[len(regs)-1].e = max(regs[len(regs)-1].e, e)
			regs[len(regs)-1].k++
		} else {
			regs = append(regs, region{s, e, 1})
		}
		idx = me
	}
	return regs
}

// UnifiedDiff writes hunks for the first n occurrences of old in text
// replaced by new, with 3 lines of context; nearby hunks are merged.
func UnifiedDiff(w io.Writer, p, text, old, new string, n int) {
	const ctxLines = 3
	regs := matchRegions(text, old, new, n)
	fmt.Fprintf(w, "--- %s\n+++ %s\n", p, p)
	for i := 0; i < len(regs); {
		// Group regions whose context would touch.
		j := i
		for j+1 < len(regs) && strings.Count(text[regs[j].e:regs[j+1].s], "\n") <= 2*ctxLines {
			j++
		}
		// Context before.
		pre := lines(text[:regs[i].s])
		pre = pre[max(0, len(pre)-ctxLines):]
		oldStart := strings.Count(text[:regs[i].s], "\n") + 1 - len(pre)
		newStart := strings.Count(text[:regs[i].s], "\n") + 1 - len(pre) + lineShift(regs[i].s, text, old, new)
		var body strings.Builder
		oldCount, newCount := len(pre), len(pre)
		for _, l := range pre {
			body.WriteString(" " + ensureNL(l))
		}
		for r := i; r <= j; r++ {
			seg := text[regs[r].s:regs[r].e]
			rep := strings.Replace(seg, old, new, regs[r].k)
			for _, l := range lines(seg) {
				body.WriteString("-" + ensureNL(l))
				oldCount++
			}
			for _, l := range lines(rep) {
				body.WriteString("+" + ensureNL(l))
				newCount++
			}
			if r < j {
				for _, l := range lines(text[regs[r].e:regs[r+1].s]) {
					body.WriteString(" " + ensureNL(l))
					oldCount++
					newCount++
				}
			}
		}
		post := lines(text[regs[j].e:])
		post = post[:min(len(post), ctxLines)]
		for _, l := range post {
			body.WriteString(" " + ensureNL(l))
			oldCount++
			newCount++
		}
		fmt.Fprintf(w, "@@ -%d,%d +%d,%d @@\n%s", oldStart, oldCount, newStart, newCount, body.String())
		i = j + 1
	}
}

// lines splits s after each newline, without a trailing empty piece.
func lines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// lineShift is how many lines the replacements before byte pos add.
func lineShift(pos int, text, old, new string) int {
	k := strings.Count(text[:pos], old)
	return k * (strings.Count(new, "\n") - strings.Count(old, "\n"))
}

func ensureNL(l string) string {
	if strings.HasSuffix(l, "\n") {
		return l
	}
	return l + "\n\\ No newline at end of file\n"
}
