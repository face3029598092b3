/** Previous and next page of a keyset-paged list. */
export function Pager({
  label,
  page,
  hasPrevious,
  hasNext,
  previous,
  next,
}: {
  label: string;
  page: number;
  hasPrevious: boolean;
  hasNext: boolean;
  previous: () => void;
  next: () => void;
}) {
  return (
    <nav aria-label={label} className="pagination">
      <button type="button" disabled={!hasPrevious} onClick={previous}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" disabled={!hasNext} onClick={next}>
        Next page
      </button>
    </nav>
  );
}
