/** A status word in a coloured badge: the word carries the meaning, the colour only helps. */
export function Status({ value }: { value: string }) {
  return <span className={`badge badge-${value}`}>{value}</span>;
}

export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <span className="progress-wrap">
      <progress value={value} max={Math.max(1, max)} aria-label={label} />
      <span className="muted">
        {value}/{max}
      </span>
    </span>
  );
}
