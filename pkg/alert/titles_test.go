package alert

import (
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/pkg/finding"
)

// TestEveryCodeHasATitle: an alert's title names what happened for every
// finding code, never "finding <CODE>".
func TestEveryCodeHasATitle(t *testing.T) {
	for _, code := range finding.Codes() {
		a := Alert{Key: Key{ARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Aliases: []string{"alias/fsx-prod"}},
			Findings: []Finding{{Code: code, Severity: Warning}}}
		if title := a.derivedTitle(); strings.Contains(title, string(code)) || !strings.Contains(title, code.Title()) {
			t.Errorf("%s: title %q spells the code or lacks %q", code, title, code.Title())
		}
	}
	a := Alert{Findings: []Finding{{Code: "NO_SUCH_CODE"}}}
	if title := a.derivedTitle(); !strings.Contains(title, "finding NO_SUCH_CODE") {
		t.Errorf("unknown code: title %q, want it to name the code", title)
	}
}
