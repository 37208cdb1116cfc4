namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// Turns the Hub's HTTP errors into messages that say what is wrong and what to do. The Hub names the cause in an
/// <c>X-Error-Code</c> header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo); without it the status decides.
/// </summary>
static class HubErrors
{
    const string TokenHelp = "create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN to it (or run `huggingface-cli login`)";

    public static HubException FromResponse(HttpResponseMessage r, HubOptions options, HubRepoId id, string? path)
    {
        int status = (int)r.StatusCode;
        var code = HubClient.Header(r, "X-Error-Code");
        var detail = HubClient.Header(r, "X-Error-Message") is { Length: > 0 } m ? $" (the Hub says: {m.TrimEnd('.')})" : "";
        var page = $"{options.Endpoint}/{id.Repo}";
        bool sentToken = options.Token is not null;
        string message = (status, code) switch
        {
            (_, "GatedRepo") or (403, _) =>
                $"access to {id.Repo} is restricted ({status}, gated or private){detail}: accept its conditions at {page} while logged in, " +
                (sentToken ? "and check that HF_TOKEN belongs to that account and can read it" : $"then {TokenHelp}"),
            (401, _) when sentToken =>
                $"the Hub refused the token for {id.Repo} (401){detail}: the repo does not exist, or HF_TOKEN is invalid or cannot read it; check the id and the token",
            (401, _) or (_, "RepoNotFound") when !sentToken =>
                $"repo {id.Repo} was not found on {options.Endpoint} ({status}){detail}: check the id (org/name); if it is private or gated, {TokenHelp}",
            (_, "RevisionNotFound") =>
                $"revision '{id.Revision}' not found in {id.Repo} ({status}){detail}: check the branch, tag or commit after '@' (the repo's branches are listed at {page}/tree/main)",
            (_, "EntryNotFound") =>
                $"file '{path}' not found in {id.Repo} at '{id.Revision}' ({status}){detail}: check the folder part of the id; the repo's files are listed at {page}/tree/main",
            (404, _) when path is null =>
                $"repo {id.Repo} or revision '{id.Revision}' not found on {options.Endpoint} (404){detail}: check the id (org/name) and the revision after '@'",
            (404, _) =>
                $"file '{path}' not found in {id.Repo} (404){detail}: check the id and revision",
            (429, _) =>
                $"the Hub is rate-limiting downloads (429){detail}: wait a few minutes and try again" + (sentToken ? "" : $"; logged-in downloads get more: {TokenHelp}"),
            ( >= 500, _) =>
                $"the Hub failed with {status} {r.ReasonPhrase}{detail} while serving {id.Repo}: try again later, or set HF_HUB_OFFLINE=1 to use only the cache",
            _ =>
                $"the Hub answered {status} {r.ReasonPhrase}{detail} for {id.Repo}{(path is null ? "" : "/" + path)}: check the id and HF_ENDPOINT ({options.Endpoint})",
        };
        return new HubException(message, status);
    }
}
