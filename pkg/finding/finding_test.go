package finding_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/pkg/finding"
)

// TestEveryCodeIsDocumented: every code has a title, a usual severity and a
// section of the findings reference (docs/findings.md) that says what it
// means, why it matters, how to fix it and how to check the fix; and the
// reference documents no code the table lacks.
func TestEveryCodeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	parts := regexp.MustCompile(`(?m)^## `).Split(string(doc), -1)
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "\n")
		sections[strings.TrimSpace(name)] = body
	}
	for _, c := range finding.Codes() {
		if c.Title() == "" || strings.HasPrefix(c.Title(), "finding ") {
			t.Errorf("%s has no title", c)
		}
		if c.Usual().Rank() == 0 {
			t.Errorf("%s has no usual severity", c)
		}
		body, ok := sections[string(c)]
		if !ok {
			t.Errorf("docs/findings.md has no section %q (the anchor %s)", "## "+string(c), c.Reference())
			continue
		}
		for _, part := range []string{"**What it means.**", "**Why it matters.**", "**Fix.**", "**Check.**"} {
			if !strings.Contains(body, part) {
				t.Errorf("docs/findings.md, section %s: no %s", c, part)
			}
		}
		if !strings.Contains(body, "Severity: "+string(c.Usual())) {
			t.Errorf("docs/findings.md, section %s: does not say \"Severity: %s\"", c, c.Usual())
		}
	}
	for name := range sections {
		if !finding.Code(name).Known() && strings.ToUpper(name) == name {
			t.Errorf("docs/findings.md documents %s, which is not a code", name)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]finding.Severity{" critical ": finding.Critical, "Warning": finding.Warning, "INFO": finding.Info} {
		if got, err := finding.ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := finding.ParseSeverity("HIGH"); err == nil {
		t.Error("ParseSeverity(HIGH): no error")
	}
	if !finding.Critical.AtLeast(finding.Warning) || finding.Info.AtLeast(finding.Warning) || finding.Severity("").AtLeast(finding.Info) {
		t.Error("AtLeast orders CRITICAL > WARNING > INFO > unknown")
	}
}

func ExampleCode_Title() {
	c := finding.KeyDisabled
	fmt.Println("KMS key alias/fsx-prod", c.Title())
	fmt.Println(c.Usual(), c.Reference())
	// Output:
	// KMS key alias/fsx-prod was disabled
	// CRITICAL https://github.com/fsxkms/fsxkms/blob/main/docs/findings.md#key_disabled
}
