/**
 * Keyboard reach for token sequences: one tab stop per container (the last token focused, else the first), arrow
 * keys move between tokens (Up/Down jump between rows when the tokens sit in rows, e.g. example windows), Home/End,
 * and Enter/Space act as a click. Focus shows the token's details panel (tooltip.ts).
 */
export function tokenNav(container: HTMLElement, tokenSelector: string, rowSelector?: string): void {
  const tokens = () => [...container.querySelectorAll<HTMLElement>(tokenSelector)];
  const all = tokens();
  all.forEach((t, i) => (t.tabIndex = i === 0 ? 0 : -1));
  const move = (to: HTMLElement | undefined) => {
    if (!to) return;
    for (const t of tokens()) t.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
  };
  container.addEventListener("focusin", (ev) => {
    const t = ev.target as HTMLElement;
    if (!t.matches(tokenSelector)) return;
    for (const o of tokens()) o.tabIndex = o === t ? 0 : -1;
  });
  container.addEventListener("keydown", (ev) => {
    const t = ev.target as HTMLElement;
    if (!t.matches?.(tokenSelector)) return;
    const list = tokens();
    const i = list.indexOf(t);
    let to: HTMLElement | undefined;
    const rowJump = (dir: 1 | -1): HTMLElement | undefined => {
      if (!rowSelector) return list[i + dir];
      const rows = [...container.querySelectorAll<HTMLElement>(rowSelector)];
      const row = t.closest(rowSelector);
      const next = rows[rows.indexOf(row as HTMLElement) + dir];
      if (!next) return undefined;
      return next.querySelector<HTMLElement>(`${tokenSelector}.centre`) ?? next.querySelector<HTMLElement>(tokenSelector) ?? undefined;
    };
    switch (ev.key) {
      case "ArrowRight": to = list[i + 1]; break;
      case "ArrowLeft": to = list[i - 1]; break;
      case "ArrowDown": to = rowJump(1); break;
      case "ArrowUp": to = rowJump(-1); break;
      case "Home": to = list[0]; break;
      case "End": to = list[list.length - 1]; break;
      case "Enter":
      case " ":
        ev.preventDefault();
        t.click();
        return;
      default:
        return;
    }
    ev.preventDefault();
    move(to);
  });
}
