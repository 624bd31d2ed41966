package alert

// A small goaws launcher for the integration test. It belongs in
// internal/devstack once that exists; keep it small until then.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	goawsAccount = "111122223333"
	goawsTopic   = "arn:aws:sns:us-east-1:" + goawsAccount + ":fsxkms-alerts"
)

// goawsConfig has one topic with two raw SQS subscriptions: every alert,
// and (by filter policy on the severity attribute) CRITICAL ones only.
const goawsConfig = `Local:
  Host: 127.0.0.1
  Port: %d
  Region: us-east-1
  AccountId: "` + goawsAccount + `"
  LogToFile: false
  QueueAttributeDefaults:
    VisibilityTimeout: 30
    ReceiveMessageWaitTimeSeconds: 0
    MaximumMessageSize: 262144
  Queues:
    - Name: alerts-raw
    - Name: alerts-critical
  Topics:
    - Name: fsxkms-alerts
      Subscriptions:
        - QueueName: alerts-raw
          Raw: true
        - QueueName: alerts-critical
          Raw: true
          FilterPolicy: '{"severity": ["CRITICAL"]}'
`

var goaws struct {
	once sync.Once
	url  string // http://127.0.0.1:<port>
	err  error
	cmd  *exec.Cmd  // the running goaws, or nil
	done chan error // receives cmd.Wait's result
	out  bytes.Buffer
}

// TestMain stops goaws if a test started it.
func TestMain(m *testing.M) {
	code := m.Run()
	if c := goaws.cmd; c != nil {
		_ = c.Process.Kill()
		<-goaws.done
	}
	os.Exit(code)
}

// goawsURL starts goaws once and returns its endpoint; a test that needs it
// fails (never skips) when it cannot start.
func goawsURL(t *testing.T) string {
	t.Helper()
	goaws.once.Do(func() { goaws.url, goaws.err = startGoaws() })
	if goaws.err != nil {
		t.Fatalf("goaws: %v", goaws.err)
	}
	return goaws.url
}

func startGoaws() (string, error) {
	bin, err := filepath.Abs("../../.devstack/bin/goaws")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%w (build it with `make tools`)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "alert-goaws-")
	if err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, "goaws.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, goawsConfig, port), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "-config", cfg, "Local")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &goaws.out, &goaws.out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	goaws.cmd, goaws.done = cmd, make(chan error, 1)
	go func() { goaws.done <- cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case err := <-goaws.done:
			goaws.cmd = nil
			return "", fmt.Errorf("exited before serving (%v):\n%s", err, goaws.out.String())
		case <-deadline:
			return "", fmt.Errorf("no answer on %s/health after 15s:\n%s", base, goaws.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, nil
			}
		}
	}
}

// sqsMessage is one message from goaws's query-protocol ReceiveMessage
// (SDK v2 SQS speaks the JSON protocol, which goaws lacks).
type sqsMessage struct {
	Body       string `xml:"Body"`
	Attributes []struct {
		Name  string `xml:"Name"`
		Value struct {
			DataType    string `xml:"DataType"`
			StringValue string `xml:"StringValue"`
		} `xml:"Value"`
	} `xml:"MessageAttribute"`
}

func (m sqsMessage) attrs() map[string]string {
	out := map[string]string{}
	for _, a := range m.Attributes {
		out[a.Name] = a.Value.DataType + ":" + a.Value.StringValue
	}
	return out
}

// receive reads messages from queue once, then polls until want arrived or
// 5 seconds passed.
func receive(t *testing.T, base, queue string, want int) []sqsMessage {
	t.Helper()
	var got []sqsMessage
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for first := true; first || (len(got) < want && ctx.Err() == nil); first = false {
		form := url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {base + "/" + goawsAccount + "/" + queue},
			"MaxNumberOfMessages": {"10"}, "MessageAttributeName.1": {"All"}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				break
			}
			t.Fatalf("ReceiveMessage %s: %v", queue, err)
		}
		var r struct {
			Messages []sqsMessage `xml:"ReceiveMessageResult>Message"`
		}
		err = xml.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("ReceiveMessage %s: status %d, %v", queue, resp.StatusCode, err)
		}
		got = append(got, r.Messages...)
		if len(r.Messages) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return got
}
