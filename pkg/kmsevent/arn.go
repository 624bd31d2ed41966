package kmsevent

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// keyRef is what a key identifier in a record turned out to be.
type keyRef struct {
	keyARN string // a full key ARN, when the identifier names a key
	alias  string // an alias name or alias ARN, when it names an alias
}

// parseKeyRef reads a key identifier as KMS accepts it: a key ARN, an alias
// ARN, an alias name ("alias/..."), or a bare key id (UUID, "mrk-..." or any
// other run of letters, digits and hyphens). A bare id is completed into a key
// ARN with region and account; where either is unusable, it is an error.
func parseKeyRef(id, region, account string) (keyRef, error) {
	switch {
	case id == "":
		return keyRef{}, fmt.Errorf("empty key identifier")
	case strings.HasPrefix(id, "arn:"):
		kind, _, err := parseARN(id)
		if err != nil {
			return keyRef{}, err
		}
		if kind == "alias" {
			return keyRef{alias: id}, nil
		}
		return keyRef{keyARN: id}, nil
	case strings.HasPrefix(id, "alias/"):
		if !validAliasName(id[len("alias/"):]) {
			return keyRef{}, fmt.Errorf("%s is not a valid alias name", quote(id))
		}
		return keyRef{alias: id}, nil
	}
	if !validKeyID(id) {
		return keyRef{}, fmt.Errorf("%s is neither a key id, a key ARN nor an alias", quote(id))
	}
	if !validRegion(region) {
		return keyRef{}, fmt.Errorf("cannot complete key id %s into an ARN: region %s is not valid", quote(id), quote(region))
	}
	if !validAccount(account) {
		return keyRef{}, fmt.Errorf("cannot complete key id %s into an ARN: account %s is not valid", quote(id), quote(account))
	}
	return keyRef{keyARN: "arn:aws:kms:" + region + ":" + account + ":key/" + id}, nil
}

// parseARN checks that s is a KMS key or alias ARN,
// arn:PARTITION:kms:REGION:ACCOUNT:key/ID or .../alias/NAME, and returns
// "key" or "alias" and the id or name.
func parseARN(s string) (kind, name string, err error) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("%s is not an ARN", quote(s))
	}
	partition, service, region, account, resource := a.Partition, a.Service, a.Region, a.AccountID, a.Resource
	switch {
	case !validPartition(partition):
		return "", "", fmt.Errorf("ARN %s: partition %s is not valid", quote(s), quote(partition))
	case service != "kms":
		return "", "", fmt.Errorf("ARN %s is not a KMS ARN", quote(s))
	case !validRegion(region):
		return "", "", fmt.Errorf("ARN %s: region %s is not valid", quote(s), quote(region))
	case !validAccount(account):
		return "", "", fmt.Errorf("ARN %s: account %s is not valid", quote(s), quote(account))
	}
	kind, name, ok := strings.Cut(resource, "/")
	switch {
	case ok && kind == "key" && validKeyID(name):
		return kind, name, nil
	case ok && kind == "alias" && validAliasName(name):
		return kind, name, nil
	}
	return "", "", fmt.Errorf("ARN %s: resource %s is neither key/ID nor alias/NAME", quote(s), quote(resource))
}

// validPartition accepts aws and aws-cn, aws-us-gov, aws-iso-b, ...
func validPartition(s string) bool {
	if s != "aws" && !strings.HasPrefix(s, "aws-") {
		return false
	}
	return only(s, func(c byte) bool { return c >= 'a' && c <= 'z' || c == '-' })
}

// validRegion accepts lowercase letters, digits and hyphens, starting with a
// letter and ending with a digit (us-east-1, us-gov-west-1, eusc-de-east-1).
func validRegion(s string) bool {
	if len(s) < 3 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	return only(s, func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' })
}

// validAccount accepts a run of digits. AWS account ids have 12, but
// anonymised records carry 9 or 13, and nothing downstream needs exactly 12.
func validAccount(s string) bool {
	return s != "" && len(s) <= 16 && only(s, func(c byte) bool { return c >= '0' && c <= '9' })
}

// validKeyID accepts letters, digits and hyphens: a UUID, a multi-Region id
// ("mrk-" and 32 hex digits), or the short ids of synthetic fixtures.
func validKeyID(s string) bool {
	return s != "" && len(s) <= 128 && only(s, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	})
}

// validAliasName accepts the characters KMS allows in alias names.
func validAliasName(s string) bool {
	return s != "" && len(s) <= 256 && only(s, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-'
	})
}

func only(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
