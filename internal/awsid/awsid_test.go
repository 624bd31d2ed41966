package awsid_test

import (
	"fmt"
	"testing"

	"github.com/fsxkms/fsxkms/internal/awsid"
)

func TestAccount(t *testing.T) {
	for in, want := range map[string]bool{
		"111122223333":                   true,
		"012345678901":                   true,
		"":                               false,
		"11112222333":                    false, // 11 digits
		"1111222233334":                  false, // 13 digits
		"11112222333a":                   false,
		"+11122223333":                   false,
		"-11122223333":                   false,
		"1111 2222333":                   false,
		"１１１１２２２２３３３３":                   false, // fullwidth digits
		"arn:aws:iam::111122223333:root": false,
		"*":                              false,
	} {
		if got := awsid.Account(in); got != want {
			t.Errorf("Account(%q) = %v, want %v", in, got, want)
		}
	}
}

func ExampleAccount() {
	fmt.Println(awsid.Account("111122223333"), awsid.Account("arn:aws:iam::111122223333:root"))
	// Output: true false
}
