package alert

import (
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/pkg/check"
)

// TestEveryCodeHasATitle: an alert's title names what happened for every
// finding code pkg/check can return, never "finding <CODE>".
func TestEveryCodeHasATitle(t *testing.T) {
	for _, code := range check.Codes {
		if what[code] == "" {
			t.Errorf("finding code %s has no title in alert's table", code)
			continue
		}
		a := Alert{Key: Key{ARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Aliases: []string{"alias/fsx-prod"}},
			Findings: []Finding{{Code: code, Severity: Warning}}}
		if title := a.derivedTitle(); strings.Contains(title, code) {
			t.Errorf("%s: title %q spells the code", code, title)
		}
	}
	for code := range what {
		found := false
		for _, c := range check.Codes {
			found = found || c == code
		}
		if !found {
			t.Errorf("alert has a title for %s, which pkg/check does not return", code)
		}
	}
}
