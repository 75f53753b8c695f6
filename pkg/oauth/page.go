package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// setPageHeaders makes a response uncachable, unframable and unable to run
// scripts or load anything; formOrigin is added to form-action because
// browsers apply it to the redirect that follows the form POST.
func setPageHeaders(w http.ResponseWriter, formOrigin string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	formAction := "'self'"
	if formOrigin != "" {
		formAction += " " + formOrigin
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+pageStyleHash+"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

var cspOriginRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z][a-z0-9+.-]*://[A-Za-z0-9.\-\[\]:]+$|^[a-z][a-z0-9+.-]*:$`)
})

// cspFormOrigin is the origin of a redirect URI in CSP source syntax, or ""
// if it cannot be expressed safely.
func cspFormOrigin(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	var o string
	if u.Host != "" {
		o = strings.ToLower(u.Scheme) + "://" + u.Host
	} else {
		o = strings.ToLower(u.Scheme) + ":"
	}
	if !cspOriginRe().MatchString(o) {
		return ""
	}
	return o
}

type pageData struct {
	Title        string
	Error        string
	ClientName   string
	ClientID     string
	DocHost      string // host of a metadata document's URL
	RedirectHost string
	Scope        string
	Action       string
	RequestID    string
	CSRF         string
	Message      string
	MessageCode  string // shown in <code> after Message
	MessageTail  string
}

func (s *Server) approvalPage(w http.ResponseWriter, status int, p *pendingAuth, browser, errMsg string) {
	setPageHeaders(w, cspFormOrigin(p.redirectURI))
	host := p.redirectURI
	if u, err := url.Parse(p.redirectURI); err == nil {
		host = u.Host
		if host == "" {
			host = u.Scheme + ":"
		}
	}
	name := p.clientName
	if name == "" {
		name = p.clientID
	}
	docHostName := ""
	if p.document {
		docHostName = docHost(p.clientID)
	}
	s.renderPage(w, status, pageData{
		Title: "Authorize access to this server", Error: errMsg,
		ClientName: name, ClientID: p.clientID, DocHost: docHostName, RedirectHost: host, Scope: p.scope,
		Action: s.basePath + "/authorize", RequestID: s.signPending(p, browser), CSRF: s.csrfFor(p.nonce, browser),
	})
}

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	s.errorPageMsg(w, &pageMsg{Text: msg, status: status})
}

func (s *Server) errorPageMsg(w http.ResponseWriter, m *pageMsg) {
	status := m.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	s.renderPage(w, status, pageData{Title: "Authorization error", Message: m.Text, MessageCode: m.Code, MessageTail: m.Tail})
}

func (s *Server) renderPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTmpl().Execute(w, d); err != nil {
		s.log.Warn("rendering a page", "err", err)
	}
}

// pageStyle is the page's only style; its hash is allowed by the CSP so no
// other inline style can apply.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#222}` +
	`.err{color:#a00;font-weight:bold}code{background:#f3f3f3;padding:0 .2em}input[type=password]{width:100%;padding:.4em;margin:.4em 0}` +
	`button{padding:.4em 1.2em;margin-right:.6em}.doc{font-size:1.4em;border:2px solid #a60;padding:.4em .6em}`

var pageStyleHash = "'sha256-" + sha256Base64(pageStyle) + "'"

// pageTmpl is parsed on first use: most servers never show the page, and
// parsing at init slows every start.
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} - servagent</title><style>` + pageStyle + `</style></head>
<body>
<h1>{{.Title}}</h1>
{{if .Message}}<p class="err">{{.Message}}{{if .MessageCode}}<code>{{.MessageCode}}</code>{{.MessageTail}}{{end}}</p>{{else}}
{{if .DocHost}}<p class="doc">Client published by <strong>{{.DocHost}}</strong></p>
<p>The application <strong>{{.ClientName}}</strong> describes itself in a document at <code>{{.ClientID}}</code>. Anyone can publish such a document and give it any name: what you can trust is the host above. It asks to operate this server through MCP{{if .Scope}} with scope <code>{{.Scope}}</code>{{end}}.</p>
{{else}}<p>The application <strong>{{.ClientName}}</strong> (client id <code>{{.ClientID}}</code>) asks to operate this server through MCP{{if .Scope}} with scope <code>{{.Scope}}</code>{{end}}.</p>{{end}}
<p>If you approve, you will be sent back to <strong>{{.RedirectHost}}</strong>.</p>
<p>Only approve if you started this connection yourself. Enter the operator secret (the API key, or the approval password if one is set).</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}" autocomplete="off">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<label for="secret">Operator secret</label>
<input type="password" id="secret" name="secret" autofocus>
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>{{end}}
</body></html>
`))
})

func sha256Base64(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}
