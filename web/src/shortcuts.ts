/**
 * Page-wide keys: on a unit page, j or ] opens the next unit of the run and k or [ the previous one (the page's
 * own neighbour links, so the bounds are theirs); / focuses the header search. Ignored while typing in a field
 * or with a modifier held.
 */
export function installShortcuts(): void {
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target as HTMLElement | null;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    const click = (testid: string) => {
      const a = document.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
      if (!a) return;
      ev.preventDefault();
      a.click();
    };
    if (ev.key === "j" || ev.key === "]") click("unit-next");
    else if (ev.key === "k" || ev.key === "[") click("unit-prev");
    else if (ev.key === "/") {
      const search = document.querySelector<HTMLInputElement>(".search-form input");
      if (search) {
        ev.preventDefault();
        search.focus();
      }
    }
  });
}
