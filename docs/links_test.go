package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// moduleRoot is where README.md lives; go test runs in this directory.
const moduleRoot = ".."

// pages are the Markdown files whose links are checked: the README and
// every page under docs/.
func pages(t *testing.T) []string {
	t.Helper()
	found, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(moduleRoot, "README.md")}, found...)
}

var (
	// inlineLink is a Markdown link or image, [text](target), whose target
	// has no space; titles are not used in these pages.
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	inlineCode = regexp.MustCompile("`[^`]*`")
)

// links returns the link targets of a Markdown file, outside code blocks
// and inline code.
func links(text string) []string {
	var out []string
	inFence := false
	for line := range strings.Lines(text) {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		line = inlineCode.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of a Markdown
// file: lower case, punctuation dropped but for hyphens and underscores,
// spaces turned into hyphens, a repeated anchor numbered.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for line := range strings.Lines(text) {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		m := heading.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if inFence || m == nil {
			continue
		}
		a := slug(m[1])
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// slug is GitHub's anchor of a heading: letters, digits, hyphens and
// underscores kept (lower case), spaces turned into hyphens, the rest
// (punctuation, backticks, arrows, ×) dropped.
func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Every relative link of README.md and docs/*.md leads to a file or folder
// that exists, and a link with a #fragment into a Markdown file to one of
// its headings. External links (a scheme, or mailto:) are not fetched.
func TestRelativeLinksResolve(t *testing.T) {
	checked := 0
	for _, page := range pages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range links(string(b)) {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, fragment, _ := strings.Cut(target, "#")
			resolved := page
			if path != "" {
				resolved = filepath.Join(filepath.Dir(page), path)
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s: link %q: %s does not exist", page, target, resolved)
					continue
				}
			}
			if fragment == "" || !strings.HasSuffix(resolved, ".md") {
				continue
			}
			md, err := os.ReadFile(resolved)
			if err != nil {
				t.Errorf("%s: link %q: %v", page, target, err)
				continue
			}
			if !anchors(string(md))[fragment] {
				t.Errorf("%s: link %q: %s has no heading whose anchor is #%s", page, target, resolved, fragment)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links found in README.md and docs/*.md: is the link pattern still right?", checked)
	}
}
