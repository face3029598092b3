/** Time as a dependency, so tests control it instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

export const CLOCK = Symbol('CLOCK');
