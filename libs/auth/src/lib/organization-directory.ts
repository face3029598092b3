import { LRUCache } from 'lru-cache';

/** Finds an organization's id by its name; null when there is no such organization. */
export type OrganizationLookup = (name: string) => Promise<string | null>;

/** Longest organization name the database can hold (`organizations.name` is varchar(40)). */
export const ORGANIZATION_NAME_MAX = 40;

export interface OrganizationDirectoryOptions {
  /** How many names are remembered; organizations are few, the bound only caps memory. */
  maxEntries?: number;
}

/**
 * Organization name → id, as dashboard tokens name the organization while every table keys it by id.
 * Organizations are never renamed, so a found id is kept for the life of the process. An unknown name is not
 * remembered: an organization bootstrapped a second later is found on its users' next request. Concurrent
 * lookups of one name share one query.
 */
export class OrganizationDirectory {
  private readonly ids: LRUCache<string, string>;
  private readonly pending = new Map<string, Promise<string | null>>();

  constructor(
    private readonly lookup: OrganizationLookup,
    options: OrganizationDirectoryOptions = {},
  ) {
    this.ids = new LRUCache({ max: options.maxEntries ?? 10_000 });
  }

  async idOf(name: string): Promise<string | null> {
    if (name.length === 0 || name.length > ORGANIZATION_NAME_MAX) return null;
    const cached = this.ids.get(name);
    if (cached !== undefined) return cached;
    let pending = this.pending.get(name);
    if (!pending) {
      pending = this.lookup(name)
        .then((id) => {
          if (id !== null) this.ids.set(name, id);
          return id;
        })
        .finally(() => this.pending.delete(name));
      this.pending.set(name, pending);
    }
    return pending;
  }
}
