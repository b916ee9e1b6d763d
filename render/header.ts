/** First line of every rendered file, in the file's comment syntax. */
export function renderedHeader(comment: string, file: string): string {
    return `${comment} ${file}: rendered by the Zentoria Pulumi program from the stack plan; edits are overwritten.\n`;
}
