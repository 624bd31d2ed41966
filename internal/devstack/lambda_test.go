package devstack_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

func TestLambdaInvoke(t *testing.T) {
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrap, "./testdata/hello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test function: %v\n%s", err, out)
	}
	ctx := context.Background()
	fn, err := devstack.StartLambda(ctx, bootstrap, devstack.Current().Env())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := fn.Stop(); err != nil {
			t.Error(err)
		}
	}()
	out, err := fn.Invoke(ctx, []byte(`{"name":"fsx"}`))
	if err != nil {
		t.Fatalf("Invoke: %v\nlog:\n%s", err, fn.Log())
	}
	if string(out) != `{"hello":"fsx","region":"us-east-1"}` {
		t.Errorf("Invoke = %s", out)
	}
	t.Logf("aws-lambda-rie start to first answer: %v", fn.FirstAnswer())
	_, err = fn.Invoke(ctx, []byte(`{}`))
	var ie *devstack.InvokeError
	if !errors.As(err, &ie) || !strings.Contains(string(ie.Body), "name is empty") {
		t.Errorf("Invoke of a failing call: err = %v, want *InvokeError with the function's message", err)
	}
}
