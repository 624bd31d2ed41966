package check_test

import (
	"fmt"
	"time"

	"github.com/fsxkms/fsxkms/pkg/check"
)

// A disabled key that an FSx file system uses is noncompliant, with the
// command that fixes it.
func ExampleCheck() {
	r := check.Check(check.Input{
		Key: check.Key{
			ARN:     "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			Account: "111122223333", Region: "us-east-1", State: "Disabled",
		},
		Resources: []check.Resource{{Type: "file-system", ID: "fs-0123456789abcdef0", FileSystemType: "ONTAP", OwnerID: "111122223333"}},
		Now:       time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	})
	fmt.Println(r.Status, r.Severity)
	for _, f := range r.Findings {
		fmt.Println(f.Code)
		fmt.Println(f.Remediation)
	}
	// Output:
	// NONCOMPLIANT CRITICAL
	// KEY_DISABLED
	// aws kms enable-key --key-id arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --region us-east-1
}
