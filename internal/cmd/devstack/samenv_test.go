package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// repoTemplate returns the repository's template.yaml.
func repoTemplate(t *testing.T) []byte {
	t.Helper()
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// templateFunctions returns the logical ids of the AWS::Serverless::Function
// resources of the repository's template.yaml, read with goformation's
// parser (not samFunctions's).
func templateFunctions(t *testing.T) []string {
	t.Helper()
	js, err := intrinsics.ProcessYAML(repoTemplate(t), &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct{ Type string }
	}
	if err := json.Unmarshal(js, &tmpl); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id, r := range tmpl.Resources {
		if r.Type == "AWS::Serverless::Function" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		t.Fatal("template.yaml has no AWS::Serverless::Function")
	}
	return ids
}

// checkSAMEnv checks the sam-env.json at path against template.yaml's
// functions and the stack's variables (from its env file).
func checkSAMEnv(t *testing.T, path string, vars map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]string
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	if got, want := slices.Sorted(maps.Keys(doc)), templateFunctions(t); !slices.Equal(got, want) {
		t.Errorf("%s names functions %v, want template.yaml's %v", path, got, want)
	}
	endpoints := 0
	for k, v := range vars {
		if !strings.HasPrefix(k, "AWS_ENDPOINT_URL_") && k != "STATE_TABLE" && k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY" && k != "AWS_REGION" {
			continue
		}
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
			endpoints++
		}
		for id, fn := range doc {
			if fn[k] != v {
				t.Errorf("%s: %s.%s = %q, want the stack's %q", path, id, k, fn[k], v)
			}
		}
	}
	if endpoints < 4 {
		t.Errorf("the stack's env has %d endpoint variables: %v", endpoints, vars)
	}
	for id, fn := range doc {
		if v, ok := fn["ALERT_TOPIC_ARN"]; !ok || v != "" || fn["AWS_ACCESS_KEY_ID"] != "test" {
			t.Errorf("%s: %s: ALERT_TOPIC_ARN %q (set: %v), AWS_ACCESS_KEY_ID %q; want ALERT_TOPIC_ARN empty (alerts on the function's output) and the dummy credentials",
				path, id, v, ok, fn["AWS_ACCESS_KEY_ID"])
		}
	}
}

// TestSAMFunctions reads the repository's template.yaml as samFunctions
// does and checks the logical ids against goformation's reading.
func TestSAMFunctions(t *testing.T) {
	fns, err := samFunctions(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range fns {
		ids = append(ids, f.ID)
		if !slices.Contains(f.Declared, "STATE_TABLE") {
			t.Errorf("%s: declared variables %v lack STATE_TABLE (Globals)", f.ID, f.Declared)
		}
	}
	if want := templateFunctions(t); !slices.Equal(ids, want) {
		t.Errorf("samFunctions = %v, want %v", ids, want)
	}
}

// TestDropped checks what sam local invoke would drop: the variables a
// function's template declares neither in Globals nor in its own
// Environment, except those SAM sets from its own session.
func TestDropped(t *testing.T) {
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:1",
		"STATE_TABLE=fsxkms-state", "AWS_CONFIG_FILE=/dev/null"}
	for _, tt := range []struct {
		file string
		want map[string][]string
	}{
		{"testdata/declared.yaml", map[string][]string{}},
		{"testdata/undeclared.yaml", map[string][]string{"OneFunction": {"AWS_ENDPOINT_URL_KMS"}}},
	} {
		b, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		fns, err := samFunctions(b)
		if err != nil {
			t.Fatal(err)
		}
		doc := samEnv(fns, env)
		for id, vars := range doc {
			if _, ok := vars["AWS_CONFIG_FILE"]; ok {
				t.Errorf("%s: %s carries AWS_CONFIG_FILE, which SAM would drop and the container does not need", tt.file, id)
			}
		}
		if got := dropped(fns, doc); !maps.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("%s: dropped = %v, want %v", tt.file, got, tt.want)
		}
	}
	if _, err := samFunctions([]byte("Resources:\n  T:\n    Type: AWS::SNS::Topic\n")); err == nil {
		t.Error("a template without functions was accepted")
	}
}
