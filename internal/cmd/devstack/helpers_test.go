package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// cli is the devstack command built for a test, with a state directory
// (-dir) of its own.
type cli struct {
	bin, dir string
}

// buildCLI builds the command into a temporary directory.
func buildCLI(t *testing.T) cli {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "devstack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return cli{bin: bin, dir: filepath.Join(tmp, "state")}
}

// run runs the command with args and returns its output, stdout and stderr
// interleaved.
func (c cli) run(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// up runs "up -dir" with args, stops the stack when the test ends, and
// returns up's output and the env file it wrote.
func (c cli) up(t *testing.T, args ...string) (out string, env []byte) {
	t.Helper()
	out, err := c.run(append([]string{"up", "-dir", c.dir}, args...)...)
	if err != nil {
		t.Fatalf("up %v: %v\n%s", args, err, out)
	}
	t.Cleanup(func() { c.run("down", "-dir", c.dir) })
	env, err = os.ReadFile(filepath.Join(c.dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	return out, env
}

// state reads the state.json that serve wrote, and returns it also as
// read, for error messages.
func (c cli) state() (state, []byte, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(c.dir, "state.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	return st, b, err
}

// down runs "down -dir" and checks that it reports a clean stop and that
// none of st's ports is open and none of its processes alive.
func (c cli) down(t *testing.T, st state) {
	t.Helper()
	if out, err := c.run("down", "-dir", c.dir); err != nil || !strings.Contains(out, "no process and no port") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for _, p := range st.Ports {
		if conn, err := dial(p); err == nil {
			conn.Close()
			t.Errorf("port %d still open after down", p)
		}
	}
	for _, pid := range append([]int{st.Pid}, st.Pids...) {
		if alive(pid) {
			t.Errorf("process %d alive after down", pid)
		}
	}
}

// exports reads the export lines of an env file (single-quoted values, as
// shellQuote writes them).
func exports(t *testing.T, env []byte) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for line := range strings.SplitSeq(string(env), "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			t.Fatalf("env file line %q: value not single-quoted", line)
		}
		vars[k] = strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
	}
	return vars
}

// envCredentials are the credentials an env file's variables name.
func envCredentials(vars map[string]string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"], "")
}
