package monitor

import (
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// toAlert is ToAlert with the monitor's own facts: when the key was read,
// who sends the alert (the stack and the function) and the account's name
// when the organization's sweep knows it.
func (m *Monitor) toAlert(kr *KeyResult, ev *kmsevent.Event) alert.Alert {
	a := ToAlert(kr.Report, ev)
	a.AccountName = kr.AccountName
	a.CheckedAt = m.now().UTC()
	a.Sender = m.Function
	if m.Stack != "" {
		a.Sender = m.Stack + "/" + m.Function
	}
	return a
}

// ToAlert renders a check report (and the event behind it, nil for a sweep)
// as an alert.
func ToAlert(rep check.Report, ev *kmsevent.Event) alert.Alert {
	a := alert.Alert{
		Schema:   alert.Schema,
		Severity: alert.Severity(rep.Severity),
		Status:   alert.Status(rep.Status),
		Account:  rep.Key.Account,
		Region:   rep.Key.Region,
		Key: alert.Key{
			ARN:     rep.Key.ARN,
			State:   rep.Key.State,
			Manager: rep.Key.Manager,
			Aliases: rep.Aliases,
		},
		Trigger: alert.Trigger{Source: alert.SourceSweep, EventName: "ScheduledSweep"},
	}
	if a.Severity == "" {
		a.Severity = alert.Info
	}
	if ev != nil {
		a.Trigger = alert.Trigger{
			Source:    alert.SourceCloudTrail,
			EventName: ev.EventName,
			EventID:   ev.EventID,
			EventTime: ev.EventTime,
			Actor:     actorName(ev.Actor),
			SourceIP:  ev.Actor.SourceIP,
			Failed:    ev.Failed,
			ErrorCode: ev.ErrorCode,
		}
		if ev.Kind == kmsevent.KMSEvent {
			a.Trigger.Source = alert.SourceKMSEvent
		}
	}
	for _, r := range rep.Resources {
		a.Resources = append(a.Resources, alert.Resource{
			Type: r.Type, ID: r.ID, ARN: r.ARN, FileSystemType: r.FileSystemType, Lifecycle: r.Lifecycle,
		})
	}
	for _, f := range rep.Findings {
		a.Findings = append(a.Findings, alert.Finding{
			Code: f.Code, Severity: alert.Severity(f.Severity), Action: f.Action, Decision: f.Decision,
			Statements: f.Statements, Principal: f.Principal, Message: f.Message, Remediation: f.Remediation,
		})
	}
	return a
}

func actorName(a kmsevent.Actor) string {
	switch {
	case a.ARN != "":
		return a.ARN
	case a.InvokedBy != "":
		return a.InvokedBy
	}
	return a.Type
}
