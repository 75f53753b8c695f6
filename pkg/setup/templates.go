package setup

import (
	"embed"
	"strings"
)

//go:embed templates/*.md
var templateFS embed.FS

// Template is a starting skill the wizard can add.
type Template struct {
	Name    string
	Summary string
	Content []byte // SKILL.md
}

// Templates are the skill templates by name; TemplateNames gives their order.
var Templates = loadTemplates()

// TemplateNames lists the templates in the order the wizard shows them.
var TemplateNames = []string{"webserver", "smtp", "docker"}

var templateSummaries = map[string]string{
	"webserver": "nginx sites, config test and reload, logs",
	"smtp":      "outgoing mail relay, postfix queue and logs",
	"docker":    "Compose apps under /srv, updates and logs",
}

func loadTemplates() map[string]Template {
	out := map[string]Template{}
	for _, n := range TemplateNames {
		data, err := templateFS.ReadFile("templates/" + n + ".md")
		if err != nil {
			panic("setup: template " + n + " missing: " + err.Error()) // a build defect, caught by every test
		}
		out[n] = Template{Name: n, Summary: templateSummaries[n], Content: data}
	}
	return out
}

// SummaryWidth caps a tool's one-line summary (in runes).
const SummaryWidth = 72

// FirstSentence shortens a tool description to its first sentence, cut at a
// word to SummaryWidth, for the one-line summaries of the tools question.
func FirstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if r := []rune(s); len(r) > SummaryWidth {
		cut := string(r[:SummaryWidth-1])
		if i := strings.LastIndexByte(cut, ' '); i > SummaryWidth/2 {
			cut = cut[:i]
		}
		s = strings.TrimRight(cut, " ,;:") + "…"
	}
	return s
}
