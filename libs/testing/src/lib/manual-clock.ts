import type { Clock } from '@gatehouse/contracts';

/** A clock that moves only when a test moves it: the `CLOCK` of tests that depend on time. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start: Date) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(date: Date): void {
    this.current = date.getTime();
  }

  advance(ms: number): void {
    this.current += ms;
  }
}
