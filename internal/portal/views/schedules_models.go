package views

import (
	"strconv"
	"time"
)

// Schedule is a recurring scan as the pages show it (the API's JSON).
type Schedule struct {
	ID          string    `json:"id"`
	TargetID    string    `json:"target_id"`
	Target      string    `json:"target"`
	Scanners    []string  `json:"scanners"`
	Cron        string    `json:"cron"`
	Interval    string    `json:"interval"`
	TimeZone    string    `json:"timezone"`
	Description string    `json:"description"`
	Paused      bool      `json:"paused"`
	CreatedAt   time.Time `json:"created_at"`
	State       *struct {
		Paused     bool        `json:"paused"`
		Note       string      `json:"note"`
		NextRuns   []time.Time `json:"next_runs"`
		RecentRuns []struct {
			ScheduledAt time.Time `json:"scheduled_at"`
			StartedAt   time.Time `json:"started_at"`
			WorkflowID  string    `json:"workflow_id"`
		} `json:"recent_runs"`
		Actions int `json:"actions"`
	} `json:"state"`
}

// Cadence is how often the schedule runs, for a person.
func (s Schedule) Cadence() string {
	if s.Cron != "" {
		return "cron " + s.Cron + " (" + s.TimeZone + ")"
	}
	d, err := time.ParseDuration(s.Interval)
	if err != nil {
		return "every " + s.Interval
	}
	switch {
	case d%(24*time.Hour) == 0 && d >= 24*time.Hour:
		return schedulePlural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return schedulePlural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return schedulePlural(int(d/time.Minute), "minute")
	}
	return "every " + s.Interval
}

func schedulePlural(n int, unit string) string {
	if n == 1 {
		return "every " + unit
	}
	return "every " + strconv.Itoa(n) + " " + unit + "s"
}

// NextRuns are the schedule's next run times (none while paused).
func (s Schedule) NextRuns() []time.Time {
	if s.State == nil || s.Paused {
		return nil
	}
	if len(s.State.NextRuns) > 3 {
		return s.State.NextRuns[:3]
	}
	return s.State.NextRuns
}

// Runs is how many scans the schedule started.
func (s Schedule) Runs() int {
	if s.State == nil {
		return 0
	}
	return s.State.Actions
}

// ScheduleForm is the create-a-schedule form.
type ScheduleForm struct {
	TargetID, Interval, Cron, TimeZone, Description string
	Scanners                                        map[string]bool
	Errors                                          map[string]string
	Error                                           string
}

// SchedulesPage is /app/schedules.
type SchedulesPage struct {
	Schedules  []Schedule
	Targets    []ChoiceOption
	NextCursor string
	Paged      bool
	Form       ScheduleForm
}
