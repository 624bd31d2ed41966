package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/scenario"
)

// TestUpDemo starts the stack with the demo world: its keys, with their
// policies and FSx grants, and its FSx resources are there.
func TestUpDemo(t *testing.T) {
	c := buildCLI(t)
	if out, err := c.run("up", "-dir", c.dir, "-demo", "-region", "eu-west-1"); err == nil || !strings.Contains(out, "-demo is the demo world's own") {
		t.Errorf("up -demo -region eu-west-1: err %v, want a usage error:\n%s", err, out)
	}
	_, env := c.up(t, "-demo")
	vars := exports(t, env)
	creds := envCredentials(vars)
	ctx := context.Background()
	k := kms.New(kms.Options{Region: vars["AWS_REGION"], BaseEndpoint: aws.String(vars["AWS_ENDPOINT_URL_KMS"]), Credentials: creds})
	prod := scenario.Aliases[scenario.ProdKeyID]
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(prod)})
	if err != nil || aws.ToString(d.KeyMetadata.Arn) != scenario.KeyARN(scenario.ProdKeyID) {
		t.Fatalf("DescribeKey %s: %+v, %v", prod, d, err)
	}
	p, err := k.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: d.KeyMetadata.Arn, PolicyName: aws.String("default")})
	if err != nil || !strings.Contains(aws.ToString(p.Policy), "AllowAccessThroughFSx") {
		t.Errorf("policy of %s: %v, %v", prod, p, err)
	}
	g, err := k.ListGrants(ctx, &kms.ListGrantsInput{KeyId: d.KeyMetadata.Arn})
	if err != nil || len(g.Grants) == 0 {
		t.Errorf("grants of %s: %v, %v", prod, g, err)
	}
	f := fsx.New(fsx.Options{Region: vars["AWS_REGION"], BaseEndpoint: aws.String(vars["AWS_ENDPOINT_URL_FSX"]), Credentials: creds})
	fs, err := f.DescribeFileSystems(ctx, &fsx.DescribeFileSystemsInput{})
	if err != nil || len(fs.FileSystems) == 0 {
		t.Errorf("DescribeFileSystems: %v, %v", fs, err)
	}
}
