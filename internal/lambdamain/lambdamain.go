// Package lambdamain is what every fsxkms Lambda function does before it
// serves: set up the logs (internal/lambdalog), read the settings from the
// environment and build the monitor on AWS's clients, stopping the process
// with a log line that says why when it cannot.
package lambdamain

import (
	"context"
	"os"

	"github.com/fsxkms/fsxkms/internal/lambdalog"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// Setup returns the function's logger, its settings and its monitor, with
// the monitor logging through the logger; function names it in metrics
// and alerts (kms-events, sweep, sweep-worker). check, when not nil,
// refuses settings the function cannot run with, saying why.
func Setup(function string, check func(monitor.Settings) string) (*lambdalog.Logger, monitor.Settings, *monitor.Monitor) {
	logs := lambdalog.New(os.Stdout)
	settings, err := monitor.SettingsFromEnv(os.Getenv)
	if err != nil {
		logs.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	if check != nil {
		if why := check(settings); why != "" {
			logs.Error("bad configuration", "error", why)
			os.Exit(1)
		}
	}
	m, err := monitor.NewAWS(context.Background(), settings, function)
	if err != nil {
		logs.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	m.Log = logs.Logger
	return logs, settings, m
}
