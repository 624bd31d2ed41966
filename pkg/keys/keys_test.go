package keys

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/pkg/check"
)

// TestReadError: AccessDenied and NotFound become findings; throttling, 5xx
// and network errors stay errors so the event is retried.
func TestReadError(t *testing.T) {
	tests := []struct {
		err  error
		kind string // "" = a real error
	}{
		{&types.NotFoundException{Message: new("Key 'x' does not exist")}, check.NotFound},
		{fmt.Errorf("op: %w", &types.NotFoundException{}), check.NotFound},
		{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}, check.AccessDenied},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, check.AccessDenied},
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, ""},
		{&types.KMSInternalException{}, ""},
		{errors.New("dial tcp: connection refused"), ""},
	}
	for _, tt := range tests {
		got, ok := readError("kms:GetKeyPolicy", tt.err)
		if ok != (tt.kind != "") || got.Kind != tt.kind {
			t.Errorf("readError(%v) = %+v, %v; want kind %q", tt.err, got, ok, tt.kind)
		}
		if ok && got.Call != "kms:GetKeyPolicy" {
			t.Errorf("call = %q", got.Call)
		}
	}
}

func TestFromARN(t *testing.T) {
	k := fromARN("arn:aws:kms:eu-west-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab")
	if k.Region != "eu-west-1" || k.Account != "444455556666" || k.ID != "mrk-1234abcd12ab34cd56ef1234567890ab" {
		t.Errorf("fromARN = %+v", k)
	}
	if k := fromARN("alias/fsx"); k.Region != "" || k.ID != "" || k.ARN != "alias/fsx" {
		t.Errorf("fromARN(alias) = %+v", k)
	}
}
