package tenancy

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// Team is a group of members inside a tenant.
type Team struct {
	ID        uuid.UUID
	TenantID  uuid.UUID
	Name      string
	CreatedAt time.Time
}

func teamFromRow(t dbq.Team) Team {
	return Team{ID: t.ID, TenantID: t.TenantID, Name: t.Name, CreatedAt: t.CreatedAt}
}

// TeamName normalises and checks a team's name.
func TeamName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", domainerr.InvalidField("name", "name must be 1 to 100 characters")
	}
	return name, nil
}

var errTeamExists = "a team with this name exists"

// CreateTeam makes a team in tenant; Conflict when the name is taken.
func CreateTeam(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, name string) (Team, error) {
	name, err := TeamName(name)
	if err != nil {
		return Team{}, err
	}
	t, err := q.TeamCreate(ctx, tx, dbq.TeamCreateParams{TenantID: tenant, Name: name})
	if db.IsConflict(err) {
		return Team{}, domainerr.Wrap(domainerr.Conflict, errTeamExists, err)
	}
	return teamFromRow(t), err
}

// ListTeams lists the tenant's teams.
func ListTeams(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) ([]Team, error) {
	rows, err := q.TeamList(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]Team, len(rows))
	for i, t := range rows {
		out[i] = teamFromRow(t)
	}
	return out, nil
}

// GetTeam reads one of the tenant's teams; NotFound otherwise.
func GetTeam(ctx context.Context, tx dbq.DBTX, tenant, id uuid.UUID) (Team, error) {
	t, err := q.TeamGet(ctx, tx, dbq.TeamGetParams{ID: id, TenantID: tenant})
	if err != nil {
		return Team{}, notFound(err)
	}
	return teamFromRow(t), nil
}

// RenameTeam renames one of the tenant's teams; Conflict when the name is taken.
func RenameTeam(ctx context.Context, tx dbq.DBTX, tenant, id uuid.UUID, name string) (Team, error) {
	name, err := TeamName(name)
	if err != nil {
		return Team{}, err
	}
	t, err := q.TeamRename(ctx, tx, dbq.TeamRenameParams{ID: id, TenantID: tenant, Name: name})
	if db.IsConflict(err) {
		return Team{}, domainerr.Wrap(domainerr.Conflict, errTeamExists, err)
	}
	if err != nil {
		return Team{}, notFound(err)
	}
	return teamFromRow(t), nil
}

// DeleteTeam removes one of the tenant's teams; NotFound when there was none.
func DeleteTeam(ctx context.Context, tx dbq.DBTX, tenant, id uuid.UUID) error {
	n, err := q.TeamDelete(ctx, tx, dbq.TeamDeleteParams{ID: id, TenantID: tenant})
	if err == nil && n == 0 {
		return domainerr.ErrNotFound
	}
	return err
}
