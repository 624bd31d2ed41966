package policy_test

import (
	"fmt"

	"github.com/fsxkms/fsxkms/pkg/policy"
)

const awsFSx = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowViaFSx",
      "Effect": "Allow",
      "Principal": {"AWS": "*"},
      "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
      "Resource": "*",
      "Condition": {"StringEquals": {"kms:ViaService": "fsx.us-east-1.amazonaws.com", "kms:CallerAccount": "111122223333"}}
    },
    {
      "Sid": "DenyDecryptViaFSx",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "kms:Decrypt",
      "Resource": "*",
      "Condition": {"StringEquals": {"kms:ViaService": "fsx.us-east-1.amazonaws.com"}}
    }
  ]
}`

func ExampleParse() {
	_, err := policy.Parse([]byte(`{"Statement": [{"Sid": "Use", "Effect": "Allow", "Principal": "*", "Action": 42, "Resource": "*"}]}`))
	fmt.Println(err)
	// Output:
	// key policy: statement #0 (Sid "Use"): Action: want a string or an array of strings, got a number
}

func ExamplePolicy_Evaluate() {
	p, err := policy.Parse([]byte(awsFSx))
	if err != nil {
		panic(err)
	}
	res := p.Evaluate(policy.Request{
		Principal: "arn:aws:sts::111122223333:assumed-role/FsxAdmin/session",
		Action:    "kms:Decrypt",
		Context: map[string][]string{
			"kms:ViaService":    {"fsx.us-east-1.amazonaws.com"},
			"kms:CallerAccount": {"111122223333"},
		},
	})
	fmt.Println(res.Decision, res.Statements)
	fmt.Println(res.Reason)
	// Output:
	// Deny-explicit [DenyDecryptViaFSx]
	// statement "DenyDecryptViaFSx" (#1) denies kms:Decrypt to arn:aws:sts::111122223333:assumed-role/FsxAdmin/session when kms:ViaService=fsx.us-east-1.amazonaws.com
}

func ExampleCheckFSx() {
	p, err := policy.Parse([]byte(awsFSx))
	if err != nil {
		panic(err)
	}
	res := policy.CheckFSx(p, policy.FSxParams{Account: "111122223333", Region: "us-east-1"})
	for _, perm := range res.Permissions {
		fmt.Printf("%-36s %-16s %s\n", perm.Action, perm.Decision, perm.Who)
	}
	fmt.Println("usable:", res.Usable)
	// Output:
	// kms:Decrypt                          Deny-explicit    nobody
	// kms:GenerateDataKeyWithoutPlaintext  Allow            any principal of 111122223333 via FSx
	// kms:CreateGrant                      Allow            any principal of 111122223333 via FSx
	// kms:DescribeKey                      Allow            any principal of 111122223333 via FSx
	// kms:Encrypt                          Allow            any principal of 111122223333 via FSx
	// kms:ReEncryptFrom                    Allow            any principal of 111122223333 via FSx
	// kms:ReEncryptTo                      Allow            any principal of 111122223333 via FSx
	// kms:ListAliases                      Delegated-to-IAM delegated to IAM
	// usable: false
}

func ExamplePolicy_Statements() {
	p, err := policy.Parse([]byte(awsFSx))
	if err != nil {
		panic(err)
	}
	for _, s := range p.Statements() {
		fmt.Println(s.Index(), s.Name(), s.Effect())
	}
	// Output:
	// 0 AllowViaFSx Allow
	// 1 DenyDecryptViaFSx Deny
}
