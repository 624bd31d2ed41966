package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	statetable "github.com/fsxkms/fsxkms/pkg/state"
)

// TestUpDown runs the built command: up starts the daemon and writes the
// env file, a second up is refused, down leaves no process and no port.
func TestUpDown(t *testing.T) {
	c := buildCLI(t)
	out, env := c.up(t, "-inventory", "../../devstack/fsxserver/testdata/inventory.json")
	for _, want := range []string{"export AWS_REGION='us-east-1'", "export AWS_ENDPOINT_URL_KMS='http://127.0.0.1:", "export AWS_ENDPOINT_URL_SNS='http://127.0.0.1:", "export AWS_ENDPOINT_URL_FSX='http://127.0.0.1:", "export AWS_ACCESS_KEY_ID='test'",
		"export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:", "export AWS_ENDPOINT_URL_SECURITYHUB='http://127.0.0.1:",
		"export AWS_ENDPOINT_URL_EVENTBRIDGE='http://127.0.0.1:", "export AWS_ENDPOINT_URL_STS='http://127.0.0.1:", "export STATE_TABLE='" + statetable.DefaultTable + "'"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env file lacks %q:\n%s", want, env)
		}
	}
	st, b, err := c.state()
	if err != nil || len(st.Ports) != 7 || len(st.Pids) != 3 {
		t.Fatalf("state.json = %s (%v), want 7 ports and 3 child pids (local-kms, goaws, moto_server)", b, err)
	}
	for _, p := range st.Ports {
		if conn, err := dial(p); err != nil {
			t.Errorf("port %d not open while running: %v", p, err)
		} else {
			conn.Close()
		}
	}
	// A shell that sources the env file reaches the state table.
	vars := exports(t, env)
	// The SDK's retries: see devstack's Stack.dynamoDB.
	ddb := dynamodb.New(dynamodb.Options{
		Region:       vars["AWS_REGION"],
		BaseEndpoint: aws.String(vars["AWS_ENDPOINT_URL_DYNAMODB"]),
		Credentials:  envCredentials(vars),
	})
	d, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(vars["STATE_TABLE"])})
	if err != nil {
		t.Errorf("DescribeTable of STATE_TABLE %q at AWS_ENDPOINT_URL_DYNAMODB %q: %v", vars["STATE_TABLE"], vars["AWS_ENDPOINT_URL_DYNAMODB"], err)
	} else if k := d.Table.KeySchema; len(k) != 2 || aws.ToString(k[0].AttributeName) != statetable.KeyAttribute || aws.ToString(k[1].AttributeName) != statetable.FindingAttribute {
		t.Errorf("state table key schema = %+v, want %s, %s", k, statetable.KeyAttribute, statetable.FindingAttribute)
	}
	if !strings.Contains(out, "dynamodb (moto_server)") {
		t.Errorf("up output does not list the DynamoDB endpoint:\n%s", out)
	}

	// sam-env.json points every function of template.yaml at the stack.
	checkSAMEnv(t, filepath.Join(c.dir, "sam-env.json"), vars)
	if !strings.Contains(out, "sam-env.json for sam local invoke") {
		t.Errorf("up output does not say it wrote sam-env.json:\n%s", out)
	}
	if out, err := c.run("sam-env", "-dir", c.dir, "-template", "testdata/declared.yaml"); err != nil || !strings.Contains(out, "wrote") {
		t.Errorf("sam-env with a template declaring the endpoints: %v\n%s", err, out)
	}
	if out, err := c.run("sam-env", "-dir", c.dir, "-template", "testdata/undeclared.yaml"); err == nil ||
		!strings.Contains(out, "would call AWS's endpoints, not the local stack's") || !strings.Contains(out, "AWS_ENDPOINT_URL_KMS") {
		t.Errorf("sam-env with a template declaring no endpoint: err %v, want a failure naming the variables:\n%s", err, out)
	}

	if out, err := c.run("up", "-dir", c.dir); err == nil || !strings.Contains(out, "already running") || !strings.Contains(out, "make devstack-down") {
		t.Errorf("second up: err %v, output %q, want an already-running error that says to run make devstack-down", err, out)
	}

	c.down(t, st)
	if out, err := c.run("down", "-dir", c.dir); err != nil || !strings.Contains(out, "not running") {
		t.Errorf("down when stopped: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "sam-env.json")); err == nil {
		t.Error("down left sam-env.json, which names the stopped stack's ports")
	}
	if out, err := c.run("sam-env", "-dir", c.dir); err == nil || !strings.Contains(out, "not running") {
		t.Errorf("sam-env when stopped: err %v, output %q, want a not-running error", err, out)
	}
}

// TestUpMembers: up -members starts a multi-account stack whose env file is
// the central account's, as without members; its credentials assume a
// member's read role and list that member's keys; down leaves nothing.
func TestUpMembers(t *testing.T) {
	c := buildCLI(t)
	out, env := c.up(t, "-members", "222233334444, 333344445555")
	for _, want := range []string{
		"member account 222233334444: read role arn:aws:iam::222233334444:role/fsxkms-read; act as the member with AWS_ACCESS_KEY_ID=AKIA222233334444TEST",
		"member account 333344445555: read role arn:aws:iam::333344445555:role/fsxkms-read",
		"local-kms 333344445555 (member)", "sts (stand-in)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	st, b, err := c.state()
	if err != nil || len(st.Ports) != 9 || len(st.Pids) != 5 || len(st.Members) != 2 {
		t.Fatalf("state.json = %s (%v), want 9 ports, 5 child pids (3 local-kms, goaws, moto_server) and 2 members", b, err)
	}
	vars := exports(t, env)
	if vars["AWS_ACCESS_KEY_ID"] != "test" || vars["AWS_REGION"] != "us-east-1" || len(vars) != 15 {
		t.Errorf("env file = %v, want the central account's 15 variables with the test credentials", vars)
	}
	ctx := context.Background()
	cfg := aws.Config{Region: vars["AWS_REGION"], RetryMaxAttempts: 1, Credentials: envCredentials(vars)}
	stsc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(vars["AWS_ENDPOINT_URL_STS"]) })
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc, st.Members[0].ReadRole))
	kc := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(vars["AWS_ENDPOINT_URL_KMS"]) })
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey as the member's read role: %v", err)
	}
	if !strings.HasPrefix(aws.ToString(key.KeyMetadata.Arn), "arn:aws:kms:us-east-1:222233334444:key/") {
		t.Errorf("key ARN %s, want one of account 222233334444", aws.ToString(key.KeyMetadata.Arn))
	}
	c.down(t, st)
}

// TestUpReportsStartFailure: when the daemon exits before the stack is
// ready, up fails and shows why (the end of the daemon's log).
func TestUpReportsStartFailure(t *testing.T) {
	c := buildCLI(t)
	out, err := c.run("up", "-dir", c.dir, "-inventory", filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(out, "exited") || !strings.Contains(out, "missing.json") {
		t.Errorf("up with a missing inventory: err %v, output:\n%s", err, out)
	}
}
